//! The frames of a GIF and the pages of a TIFF, read from their block and directory
//! structure without decoding a pixel.
//!
//! The header names only the first: a GIF's logical screen, a TIFF's first directory. But
//! giflib decodes every frame of a GIF into memory (the engine then reads the first), and
//! tesseract reads every page of a TIFF, so a small first image can hide a
//! 65535 × 65535 second one, or 500 more pages. Each frame is found here, and at most
//! `max_frames` are read: the walk is bounded whatever the bytes say (a TIFF directory
//! chain that loops back is refused, not followed).

use std::collections::HashSet;

/// Why the frames of an image could not be counted, or why there are too many.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub(super) enum FrameError {
    /// More frames or pages than allowed.
    #[error("more than {max} {unit}s (max_frames)")]
    TooMany {
        /// The limit.
        max: u32,
        /// `frame` or `page`.
        unit: &'static str,
    },
    /// A structure runs past the end of the bytes.
    #[error("{what} at byte {offset} runs past the end of the image")]
    Truncated {
        /// What was being read.
        what: &'static str,
        /// Where it starts.
        offset: u64,
    },
    /// A GIF block of no known kind.
    #[error("unknown GIF block 0x{byte:02x} at byte {offset}")]
    UnknownBlock {
        /// Its first byte.
        byte: u8,
        /// Where it starts.
        offset: u64,
    },
    /// The TIFF directory chain points back to a directory already read.
    #[error("the TIFF directory chain loops back to byte {offset}")]
    Loop {
        /// The directory pointed to again.
        offset: u64,
    },
    /// A TIFF page without its width or height.
    #[error("TIFF page {page} has no {tag}")]
    MissingTag {
        /// The page, from 1.
        page: usize,
        /// `ImageWidth` or `ImageLength`.
        tag: &'static str,
    },
    /// A TIFF width or height of a field type other than SHORT or LONG.
    #[error("the {tag} of TIFF page {page} has field type {field_type}")]
    BadFieldType {
        /// The page, from 1.
        page: usize,
        /// `ImageWidth` or `ImageLength`.
        tag: &'static str,
        /// The type code.
        field_type: u16,
    },
    /// A frame or page of zero pixels.
    #[error("{unit} {frame} declares a {width}×{height} image")]
    Empty {
        /// `frame` or `page`.
        unit: &'static str,
        /// The frame or page, from 1.
        frame: usize,
        /// Its width.
        width: u32,
        /// Its height.
        height: u32,
    },
    /// No frame at all.
    #[error("no image in the file")]
    NoFrames,
    /// The bytes do not start with a TIFF header.
    #[error("no TIFF header")]
    NotTiff,
}

/// A frame's width and height in pixels.
pub(super) type FrameSize = (u32, u32);

/// The size of every frame of the GIF `bytes`, from its image descriptors; more than `max`
/// frames are refused. The data ending before the trailer ends the walk (a truncated file
/// holds no further frame).
pub(super) fn gif(bytes: &[u8], max: u32) -> Result<Vec<FrameSize>, FrameError> {
    /// The signature (6 bytes) and the logical screen descriptor (7).
    const SCREEN_END: usize = 13;
    let flags = *bytes.get(10).ok_or(FrameError::Truncated {
        what: "the GIF logical screen",
        offset: 6,
    })?;
    let mut at = SCREEN_END + color_table_len(flags);
    let mut frames = Vec::new();
    loop {
        match bytes.get(at) {
            None | Some(0x3B) => break,
            Some(0x21) => at = skip_sub_blocks(bytes, at + 2),
            Some(0x2C) => {
                let Some(descriptor) = bytes.get(at + 1..at + 10) else {
                    break;
                };
                let width = u16::from_le_bytes([descriptor[4], descriptor[5]]);
                let height = u16::from_le_bytes([descriptor[6], descriptor[7]]);
                push(&mut frames, (width.into(), height.into()), max, "frame")?;
                // The descriptor, its local colour table, the LZW minimum code size.
                at = skip_sub_blocks(bytes, at + 10 + color_table_len(descriptor[8]) + 1);
            }
            Some(&byte) => {
                return Err(FrameError::UnknownBlock {
                    byte,
                    offset: at as u64,
                });
            }
        }
    }
    if frames.is_empty() {
        return Err(FrameError::NoFrames);
    }
    Ok(frames)
}

/// The length of the colour table a GIF screen or image descriptor's `flags` announce.
fn color_table_len(flags: u8) -> usize {
    if flags & 0x80 == 0 {
        0
    } else {
        3 << ((flags & 0x07) + 1)
    }
}

/// Where the data sub-blocks starting at `at` end (after the empty block); past the end
/// of `bytes` when they are cut short.
fn skip_sub_blocks(bytes: &[u8], mut at: usize) -> usize {
    while let Some(&len) = bytes.get(at) {
        at += 1 + usize::from(len);
        if len == 0 {
            break;
        }
    }
    at
}

/// Adds `size` to `frames` (each a `unit`), unless it is empty or one too many.
fn push(
    frames: &mut Vec<FrameSize>,
    size: FrameSize,
    max: u32,
    unit: &'static str,
) -> Result<(), FrameError> {
    if frames.len() >= max as usize {
        return Err(FrameError::TooMany { max, unit });
    }
    if size.0 == 0 || size.1 == 0 {
        return Err(FrameError::Empty {
            unit,
            frame: frames.len() + 1,
            width: size.0,
            height: size.1,
        });
    }
    frames.push(size);
    Ok(())
}

/// The size of every page of the TIFF `bytes` (classic or BigTIFF, either byte order),
/// from its directory chain; more than `max` pages are refused, having read `max`
/// directories. Every directory and the pointer to the next must lie within the bytes,
/// and no directory may be reached twice.
pub(super) fn tiff(bytes: &[u8], max: u32) -> Result<Vec<FrameSize>, FrameError> {
    let tiff = Tiff::new(bytes)?;
    let mut next = tiff.offset(if tiff.big { 8 } else { 4 })?;
    let mut seen = HashSet::new();
    let mut pages = Vec::new();
    while next != 0 {
        if !seen.insert(next) {
            return Err(FrameError::Loop { offset: next });
        }
        if pages.len() >= max as usize {
            // Another page: refused without reading it.
            return Err(FrameError::TooMany { max, unit: "page" });
        }
        let (size, following) = tiff.directory(next, pages.len() + 1)?;
        push(&mut pages, size, max, "page")?;
        next = following;
    }
    if pages.is_empty() {
        return Err(FrameError::NoFrames);
    }
    Ok(pages)
}

/// A TIFF's bytes and layout.
struct Tiff<'a> {
    bytes: &'a [u8],
    big_endian: bool,
    /// BigTIFF: 8-byte offsets and counts, 20-byte directory entries.
    big: bool,
}

/// The tags of a page's width and height.
const IMAGE_WIDTH: u16 = 256;
const IMAGE_LENGTH: u16 = 257;

/// The most entries of one directory searched for the width and height. Real directories
/// hold a few dozen (sorted by tag, the two near the start); directories may overlap, so
/// without this bound `max_frames` of them could each send the walk through the whole file.
const MAX_ENTRIES_SEARCHED: u64 = 1024;

impl<'a> Tiff<'a> {
    fn new(bytes: &'a [u8]) -> Result<Self, FrameError> {
        let (big_endian, big) = match bytes.get(..4) {
            Some(b"II*\0") => (false, false),
            Some(b"MM\0*") => (true, false),
            Some(b"II+\0") => (false, true),
            Some(b"MM\0+") => (true, true),
            _ => return Err(FrameError::NotTiff),
        };
        Ok(Self {
            bytes,
            big_endian,
            big,
        })
    }

    /// The `N` bytes at `at`, in file order.
    fn field<const N: usize>(&self, at: u64, what: &'static str) -> Result<[u8; N], FrameError> {
        let truncated = FrameError::Truncated { what, offset: at };
        let start = usize::try_from(at).map_err(|_| truncated.clone())?;
        let end = start.checked_add(N).ok_or(truncated.clone())?;
        let field = self.bytes.get(start..end).ok_or(truncated)?;
        let mut out = [0; N];
        out.copy_from_slice(field);
        if !self.big_endian {
            out.reverse();
        }
        // Most significant byte first from here on.
        Ok(out)
    }

    fn u16(&self, at: u64, what: &'static str) -> Result<u16, FrameError> {
        Ok(u16::from_be_bytes(self.field(at, what)?))
    }

    fn u32(&self, at: u64, what: &'static str) -> Result<u32, FrameError> {
        Ok(u32::from_be_bytes(self.field(at, what)?))
    }

    fn u64(&self, at: u64, what: &'static str) -> Result<u64, FrameError> {
        Ok(u64::from_be_bytes(self.field(at, what)?))
    }

    /// A file offset (4 bytes, 8 in a BigTIFF) at `at`.
    fn offset(&self, at: u64) -> Result<u64, FrameError> {
        if self.big {
            self.u64(at, "a TIFF offset")
        } else {
            self.u32(at, "a TIFF offset").map(u64::from)
        }
    }

    /// The page size the directory at `at` (page number `page`) gives, and the offset of
    /// the next directory (0: none).
    fn directory(&self, at: u64, page: usize) -> Result<(FrameSize, u64), FrameError> {
        const WHAT: &str = "a TIFF directory";
        let (count, entries_at, entry_len) = if self.big {
            (self.u64(at, WHAT)?, at.saturating_add(8), 20)
        } else {
            (self.u16(at, WHAT)?.into(), at.saturating_add(2), 12)
        };
        // The whole directory, and the next offset after it, must be in the bytes: this
        // also bounds the entries read by the image's length.
        let next_at = count
            .checked_mul(entry_len)
            .and_then(|len| len.checked_add(entries_at))
            .ok_or(FrameError::Truncated {
                what: WHAT,
                offset: at,
            })?;
        let next = self.offset(next_at).map_err(|_| FrameError::Truncated {
            what: WHAT,
            offset: at,
        })?;
        let (mut width, mut height) = (None, None);
        let searched = count.min(MAX_ENTRIES_SEARCHED);
        for entry in (0..searched).map(|n| entries_at + n * entry_len) {
            let (slot, tag) = match self.u16(entry, WHAT)? {
                IMAGE_WIDTH => (&mut width, "ImageWidth"),
                IMAGE_LENGTH => (&mut height, "ImageLength"),
                _ => continue,
            };
            *slot = Some(self.dimension(entry, page, tag)?);
            if width.is_some() && height.is_some() {
                break;
            }
        }
        let missing = |tag| FrameError::MissingTag { page, tag };
        let width = width.ok_or(missing("ImageWidth"))?;
        let height = height.ok_or(missing("ImageLength"))?;
        Ok(((width, height), next))
    }

    /// The value of the width or height entry (`tag`) at `entry`: a SHORT or LONG (or a
    /// BigTIFF LONG8) stored in the entry itself; values beyond `u32` are `u32::MAX`.
    fn dimension(&self, entry: u64, page: usize, tag: &'static str) -> Result<u32, FrameError> {
        const WHAT: &str = "a TIFF directory entry";
        let field_type = self.u16(entry + 2, WHAT)?;
        let value_at = entry + if self.big { 12 } else { 8 };
        let value = match field_type {
            3 => self.u16(value_at, WHAT)?.into(),
            4 => self.u32(value_at, WHAT)?.into(),
            16 if self.big => self.u64(value_at, WHAT)?,
            _ => {
                return Err(FrameError::BadFieldType {
                    page,
                    tag,
                    field_type,
                });
            }
        };
        Ok(u32::try_from(value).unwrap_or(u32::MAX))
    }
}
