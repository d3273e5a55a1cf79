//! The bridge from the generated `Guest` trait to [`Plugin`]: converts the generated
//! types to the SDK's on the way in and back on the way out.

use std::marker::PhantomData;

use crate::bindings::exports::moat::filter::filter::Guest;
use crate::bindings::moat::filter::{message as wit_message, types as wit};
use crate::{Decision, Label, Message, Plugin, Session};

/// Implements the generated `Guest` trait for any [`Plugin`]; [`export_plugin!`](crate::export_plugin)
/// exports `PluginExport<YourPlugin>`. Not for direct use.
#[doc(hidden)]
pub struct PluginExport<P>(PhantomData<P>);

impl<P: Plugin> Guest for PluginExport<P> {
    fn describe() -> wit::PluginInfo {
        P::describe().into_wit()
    }

    fn on_connect(session: wit::Session) -> wit::Verdict {
        P::on_connect(&Session::from_wit(session)).into_wit()
    }

    fn on_helo(session: wit::Session) -> wit::Verdict {
        P::on_helo(&Session::from_wit(session)).into_wit()
    }

    fn on_mail_from(session: wit::Session) -> wit::Verdict {
        P::on_mail_from(&Session::from_wit(session)).into_wit()
    }

    fn on_rcpt_to(session: wit::Session, recipient: String) -> wit::Verdict {
        P::on_rcpt_to(&Session::from_wit(session), &recipient).into_wit()
    }

    fn on_data(session: wit::Session, message: &wit_message::Message) -> wit::Verdict {
        P::on_data(&Session::from_wit(session), Message::from_wit(message)).into_wit()
    }

    fn on_outcome(
        session: wit::Session,
        decision: wit::Decision,
        message: Option<&wit_message::Message>,
    ) {
        P::on_outcome(
            &Session::from_wit(session),
            &Decision::from_wit(decision),
            message.map(Message::from_wit),
        );
    }

    fn learn(
        message: &wit_message::Message,
        label: wit::Label,
        forget: bool,
    ) -> Result<wit::LearnOutcome, String> {
        P::learn(Message::from_wit(message), Label::from_wit(label), forget)
            .map(|outcome| outcome.into_wit())
    }
}
