//! `message`: the parsed message, pulled by plugins part by part.

use wasmtime::component::Resource;

use crate::filter::bindings::moat::filter::message::{
    Address, AttachmentInfo, Header, Host, HostMessage,
};
use crate::filter::store::StoreState;
use crate::message::MessageHandle;

impl StoreState {
    fn message(&mut self, handle: &Resource<MessageHandle>) -> wasmtime::Result<MessageHandle> {
        Ok(self.table().get(handle)?.clone())
    }
}

impl Host for StoreState {}

impl HostMessage for StoreState {
    fn headers(&mut self, this: Resource<MessageHandle>) -> wasmtime::Result<Vec<Header>> {
        let m = self.message(&this)?;
        Ok(m.headers()
            .iter()
            .map(|h| Header {
                name: h.name.clone(),
                value: h.value.clone(),
            })
            .collect())
    }

    fn header(
        &mut self,
        this: Resource<MessageHandle>,
        name: String,
    ) -> wasmtime::Result<Option<String>> {
        Ok(self.message(&this)?.header(&name).map(str::to_owned))
    }

    fn header_all(
        &mut self,
        this: Resource<MessageHandle>,
        name: String,
    ) -> wasmtime::Result<Vec<String>> {
        Ok(self
            .message(&this)?
            .header_all(&name)
            .map(str::to_owned)
            .collect())
    }

    fn addresses(
        &mut self,
        this: Resource<MessageHandle>,
        name: String,
    ) -> wasmtime::Result<Vec<Address>> {
        Ok(self
            .message(&this)?
            .addresses(&name)
            .into_iter()
            .map(|a| Address {
                name: a.name,
                address: a.address,
                local_part: a.local_part,
                domain: a.domain,
                group: a.group,
            })
            .collect())
    }

    fn text_parts(&mut self, this: Resource<MessageHandle>) -> wasmtime::Result<Vec<String>> {
        Ok(self.message(&this)?.text_parts().to_vec())
    }

    fn html_parts(&mut self, this: Resource<MessageHandle>) -> wasmtime::Result<Vec<String>> {
        Ok(self.message(&this)?.html_parts().to_vec())
    }

    fn html_sources(&mut self, this: Resource<MessageHandle>) -> wasmtime::Result<Vec<String>> {
        Ok(self.message(&this)?.html_sources().to_vec())
    }

    fn body_text(&mut self, this: Resource<MessageHandle>) -> wasmtime::Result<String> {
        Ok(self.message(&this)?.body_text().to_owned())
    }

    fn urls(&mut self, this: Resource<MessageHandle>) -> wasmtime::Result<Vec<String>> {
        Ok(self.message(&this)?.urls().to_vec())
    }

    fn attachments(
        &mut self,
        this: Resource<MessageHandle>,
    ) -> wasmtime::Result<Vec<AttachmentInfo>> {
        Ok(self
            .message(&this)?
            .attachments()
            .iter()
            .map(|a| AttachmentInfo {
                index: a.index,
                name: a.name.clone(),
                content_type: a.content_type.clone(),
                size: a.size,
                content_id: a.content_id.clone(),
            })
            .collect())
    }

    fn attachment_bytes(
        &mut self,
        this: Resource<MessageHandle>,
        index: u32,
    ) -> wasmtime::Result<Option<Vec<u8>>> {
        Ok(self
            .message(&this)?
            .attachment_bytes(index)
            .map(<[u8]>::to_vec))
    }

    fn raw(&mut self, this: Resource<MessageHandle>) -> wasmtime::Result<Vec<u8>> {
        Ok(self.message(&this)?.raw().to_vec())
    }

    fn size(&mut self, this: Resource<MessageHandle>) -> wasmtime::Result<u64> {
        Ok(self.message(&this)?.raw().len() as u64)
    }

    fn drop(&mut self, this: Resource<MessageHandle>) -> wasmtime::Result<()> {
        // The host owns the handle and deletes it after the call; a guest drop of a
        // borrow never reaches here, and an owned handle is never given out.
        let _ = self.table().delete(this);
        Ok(())
    }
}
