//! DNS answers built by hand, byte by byte: the pipeline bench's NXDOMAIN responder and
//! the tests' misbehaving servers. Not the resolver's path: it never builds an answer.

/// The header and question of an answer to `query`: its id and its question echoed, QR
/// and RA set, opcode QUERY, RD as asked, `flags` added to the third byte (0x02: TC),
/// `rcode`, one question and `answers` answer records (which the caller appends). `None`
/// if the query is too short to hold a question.
pub(crate) fn answer_to(query: &[u8], flags: u8, rcode: u8, answers: u8) -> Option<Vec<u8>> {
    let header = query.get(..12)?;
    // The question: labels up to the root, then type and class.
    let mut end = 12;
    loop {
        let len = usize::from(*query.get(end)?);
        end += 1 + len;
        if len == 0 {
            break;
        }
    }
    let question = query.get(12..end + 4)?;
    let mut answer = Vec::with_capacity(64);
    answer.extend_from_slice(&header[..2]);
    answer.push(0x80 | flags | (header[2] & 0x01));
    answer.push(0x80 | rcode);
    answer.extend_from_slice(&[0, 1, 0, answers, 0, 0, 0, 0]);
    answer.extend_from_slice(question);
    Some(answer)
}
