//! The default spam phrases looked for in image text: classic spam vocabulary (pills,
//! prizes, casinos, get-rich offers, fake goods, phishing, dating), matched as whole words
//! with OCR noise forgiven (see [`crate::text`]). The operator replaces the list with the
//! config key `phrases` or adds to it with `extra_phrases`.
//!
//! A phrase belongs here when it is rare in legitimate mail *as image text*: single words
//! only where the word alone is a strong sign (`viagra`, `casino`).

/// The default phrase list.
pub(crate) const DEFAULT_PHRASES: &[&str] = &[
    // pharmacy
    "viagra",
    "cialis",
    "levitra",
    "cheap meds",
    "cheap pills",
    "no prescription",
    "without prescription",
    "online pharmacy",
    "weight loss",
    "lose weight",
    "diet pills",
    "male enhancement",
    // prizes and lotteries
    "you have won",
    "you won",
    "winner",
    "lottery",
    "jackpot",
    "claim your prize",
    "claim your reward",
    "cash prize",
    // gambling
    "casino",
    "free spins",
    // marketing pressure
    "100% free",
    "click here",
    "limited time offer",
    "act now",
    "order now",
    "buy now",
    "risk free",
    "100% guaranteed",
    "money back guarantee",
    "lowest price",
    "lowest prices",
    "lowest rates",
    "this is not spam",
    // money
    "work from home",
    "make money",
    "earn money",
    "extra income",
    "be your own boss",
    "double your money",
    "financial freedom",
    "refinance your mortgage",
    "no credit check",
    "debt relief",
    "hot stock",
    "stock alert",
    "penny stock",
    // fake goods
    "replica watches",
    "rolex replica",
    // phishing
    "account is suspended",
    "account has been suspended",
    "account suspended",
    "verify your account",
    "verify your password",
    "confirm your password",
    "update your payment",
    // dating
    "hot singles",
    "meet singles",
    "adult dating",
];

#[cfg(test)]
mod tests {
    use super::*;
    use crate::text::{Phrase, Searchable, words};

    /// What tesseract 5.3 reads in the shared corpus's spam images (`spam-NN`), and in
    /// copies of the PNGs shrunk to 28 % with grey noise added (`-noisy`).
    const SPAM: &[(&str, &str)] = &[
        (
            "spam-01",
            "CHEAP VIAGRA 80% OFF\nORDER NOW - NO PRESCRIPTION\n",
        ),
        (
            "spam-01-noisy",
            "‘CHEAP VIAGRA 80% OFF\n‘ORDER NOW - NO PRESCRIPTION\n",
        ),
        (
            "spam-02",
            "You have WON $1,000,000\nClaim your prize today!\n",
        ),
        (
            "spam-02-noisy",
            "You have WON $1,090,000\n‘Claim yaur prize today!\n",
        ),
        (
            "spam-03",
            "Lose 30 pounds in 30 days\nGuaranteed weight loss pills\n",
        ),
        (
            "spam-04",
            "Refinance your mortgage\nLowest rates - apply now\n",
        ),
        (
            "spam-05",
            "Hot stock alert: BUY ZXQT\nPrice will triple this week\n",
        ),
        ("spam-06", "Replica watches Rolex\nBest prices online\n"),
        ("spam-07", "Work from home\nEarn $5000 per week\n"),
        ("spam-07-noisy", "‘Work from home\nEarn $5000 per week\n"),
        ("spam-08", "Casino bonus 500%\nFree spins - click here\n"),
        (
            "spam-09",
            "Your account is suspended\nVerify your password now\n",
        ),
        (
            "spam-10",
            "Meet hot singles tonight\n100% free registration\n",
        ),
        (
            "spam-10-noisy",
            "Meet hot singles tonight\n200% tree registrat||\n",
        ),
    ];

    /// The same for the ham images.
    const HAM: &[(&str, &str)] = &[
        (
            "ham-01",
            "Quarterly report Q3\nRevenue grew 4% year on year\n",
        ),
        (
            "ham-02",
            "Team offsite agenda\nMonday 10:00 - planning session\n",
        ),
        (
            "ham-02-noisy",
            "‘Team offsite agenda\nMonday 10:00 - planning session\n",
        ),
        (
            "ham-03",
            "Network diagram v2\nRouter A connects to switch B\n",
        ),
        ("ham-04", "Invoice 2026-118\nPayment due within 30 days\n"),
        (
            "ham-05",
            "Happy birthday Anna!\nSee you at the party on Saturday\n",
        ),
    ];

    fn found(text: &str) -> Vec<String> {
        let searchable = Searchable::new(&words(text));
        DEFAULT_PHRASES
            .iter()
            .filter_map(|phrase| Phrase::new(phrase))
            .filter(|phrase| searchable.contains(phrase))
            .map(|phrase| phrase.text)
            .collect()
    }

    #[test]
    fn every_default_phrase_has_words() {
        for phrase in DEFAULT_PHRASES {
            assert!(Phrase::new(phrase).is_some(), "{phrase}");
        }
    }

    #[test]
    fn catches_the_corpus_spam_images() {
        for (image, text) in SPAM {
            assert!(!found(text).is_empty(), "{image} is not caught: {text:?}");
        }
        assert_eq!(found(SPAM[0].1), ["viagra", "no prescription", "order now"]);
        assert_eq!(
            found(SPAM[3].1),
            ["you have won"],
            "the prize line is misread"
        );
        assert_eq!(found(SPAM[13].1), ["hot singles"]);
    }

    #[test]
    fn spares_the_corpus_ham_images() {
        for (image, text) in HAM {
            assert!(found(text).is_empty(), "{image} is hit: {:?}", found(text));
        }
    }
}
