//! What an image really is: the format from its magic bytes (not from the declared media
//! type, which a sender chooses freely) and its pixel dimensions from the header, read
//! without decoding a single pixel. This is what lets the plugin refuse an image bomb (a
//! few kilobytes declaring gigapixels) before the host is even asked.

/// The image formats the plugin sends to the OCR engine.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ImageKind {
    /// PNG (`\x89PNG\r\n\x1a\n`).
    Png,
    /// JPEG (`FF D8 FF`).
    Jpeg,
    /// GIF (`GIF87a` or `GIF89a`).
    Gif,
}

impl ImageKind {
    /// The media type given to the engine.
    pub(crate) fn media_type(self) -> &'static str {
        match self {
            Self::Png => "image/png",
            Self::Jpeg => "image/jpeg",
            Self::Gif => "image/gif",
        }
    }

    /// The format's name, for details.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Self::Png => "PNG",
            Self::Jpeg => "JPEG",
            Self::Gif => "GIF",
        }
    }

    /// The format a declared media type names (`image/jpg` and `image/pjpeg` are JPEG
    /// too), ignoring parameters and case; `None` for every other type.
    pub(crate) fn from_media_type(media_type: &str) -> Option<Self> {
        let essence = media_type.split(';').next().unwrap_or_default().trim();
        match essence.to_ascii_lowercase().as_str() {
            "image/png" | "image/x-png" | "image/apng" => Some(Self::Png),
            "image/jpeg" | "image/jpg" | "image/pjpeg" | "image/jpe" => Some(Self::Jpeg),
            "image/gif" => Some(Self::Gif),
            _ => None,
        }
    }

    /// The format the bytes start with, whatever they were declared as.
    pub(crate) fn sniff(bytes: &[u8]) -> Option<Self> {
        if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
            Some(Self::Png)
        } else if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
            Some(Self::Jpeg)
        } else if bytes.starts_with(b"GIF87a") || bytes.starts_with(b"GIF89a") {
            Some(Self::Gif)
        } else {
            None
        }
    }

    /// Width and height in pixels from the header; `None` when the header is truncated or
    /// malformed (for JPEG: no frame header before the image data).
    pub(crate) fn dimensions(self, bytes: &[u8]) -> Option<(u32, u32)> {
        match self {
            Self::Png => png_dimensions(bytes),
            Self::Jpeg => jpeg_dimensions(bytes),
            Self::Gif => gif_dimensions(bytes),
        }
    }
}

fn be_u16(bytes: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_be_bytes(bytes.get(at..at + 2)?.try_into().ok()?))
}

fn be_u32(bytes: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_be_bytes(bytes.get(at..at + 4)?.try_into().ok()?))
}

/// The IHDR chunk must come first: signature (8), length (4), `IHDR` (4), width, height.
fn png_dimensions(bytes: &[u8]) -> Option<(u32, u32)> {
    if bytes.get(12..16)? != b"IHDR" {
        return None;
    }
    Some((be_u32(bytes, 16)?, be_u32(bytes, 20)?))
}

/// The logical screen: signature (6), then width and height, little-endian.
fn gif_dimensions(bytes: &[u8]) -> Option<(u32, u32)> {
    let width = u16::from_le_bytes(bytes.get(6..8)?.try_into().ok()?);
    let height = u16::from_le_bytes(bytes.get(8..10)?.try_into().ok()?);
    Some((u32::from(width), u32::from(height)))
}

/// Walks the marker segments up to the first start-of-frame (SOF0–SOF15 except DHT `C4`,
/// JPG `C8` and DAC `CC`), whose payload is precision (1), height (2), width (2).
fn jpeg_dimensions(bytes: &[u8]) -> Option<(u32, u32)> {
    let mut at = 2;
    loop {
        if *bytes.get(at)? != 0xFF {
            return None;
        }
        // Any number of 0xFF fill bytes may precede a marker.
        while *bytes.get(at + 1)? == 0xFF {
            at += 1;
        }
        let marker = *bytes.get(at + 1)?;
        match marker {
            // Markers without a length: TEM, RST0–7.
            0x01 | 0xD0..=0xD7 => at += 2,
            // Start of scan or end of image before any frame header.
            0xD9 | 0xDA => return None,
            0xC0..=0xCF if !matches!(marker, 0xC4 | 0xC8 | 0xCC) => {
                let height = be_u16(bytes, at + 5)?;
                let width = be_u16(bytes, at + 7)?;
                return Some((u32::from(width), u32::from(height)));
            }
            _ => {
                let length = usize::from(be_u16(bytes, at + 2)?);
                if length < 2 {
                    return None;
                }
                at += 2 + length;
            }
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// The first bytes of a PNG of this size (signature and IHDR).
    pub(crate) fn png_header(width: u32, height: u32) -> Vec<u8> {
        let mut bytes = b"\x89PNG\r\n\x1a\n\0\0\0\x0dIHDR".to_vec();
        bytes.extend_from_slice(&width.to_be_bytes());
        bytes.extend_from_slice(&height.to_be_bytes());
        bytes.extend_from_slice(&[8, 2, 0, 0, 0]);
        bytes
    }

    /// A JPEG start: SOI, an APP0 segment, then a baseline frame header of this size.
    pub(crate) fn jpeg_header(width: u16, height: u16) -> Vec<u8> {
        let mut bytes = vec![0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x10];
        bytes.extend_from_slice(b"JFIF\0\x01\x01\0\0\x01\0\x01\0\0");
        bytes.extend_from_slice(&[0xFF, 0xFF, 0xC0, 0x00, 0x11, 0x08]);
        bytes.extend_from_slice(&height.to_be_bytes());
        bytes.extend_from_slice(&width.to_be_bytes());
        bytes.extend_from_slice(&[0x03, 0x01, 0x22, 0x00]);
        bytes
    }

    pub(crate) fn gif_header(width: u16, height: u16) -> Vec<u8> {
        let mut bytes = b"GIF89a".to_vec();
        bytes.extend_from_slice(&width.to_le_bytes());
        bytes.extend_from_slice(&height.to_le_bytes());
        bytes.extend_from_slice(&[0xF7, 0, 0]);
        bytes
    }

    #[test]
    fn sniffs_magic_bytes() {
        assert_eq!(ImageKind::sniff(&png_header(1, 1)), Some(ImageKind::Png));
        assert_eq!(ImageKind::sniff(&jpeg_header(1, 1)), Some(ImageKind::Jpeg));
        assert_eq!(
            ImageKind::sniff(b"GIF87a\x01\0\x01\0"),
            Some(ImageKind::Gif)
        );
        assert_eq!(ImageKind::sniff(&gif_header(1, 1)), Some(ImageKind::Gif));
        assert_eq!(
            ImageKind::sniff(b"\x89PNG\r\n"),
            None,
            "truncated signature"
        );
        assert_eq!(ImageKind::sniff(b"%PDF-1.7"), None);
        assert_eq!(ImageKind::sniff(b"BM\0\0"), None, "BMP is not sent to OCR");
        assert_eq!(ImageKind::sniff(b""), None);
    }

    #[test]
    fn maps_declared_media_types() {
        assert_eq!(
            ImageKind::from_media_type("image/png"),
            Some(ImageKind::Png)
        );
        assert_eq!(
            ImageKind::from_media_type("IMAGE/JPG"),
            Some(ImageKind::Jpeg)
        );
        assert_eq!(
            ImageKind::from_media_type("image/pjpeg; name=x"),
            Some(ImageKind::Jpeg)
        );
        assert_eq!(
            ImageKind::from_media_type("image/gif"),
            Some(ImageKind::Gif)
        );
        assert_eq!(ImageKind::from_media_type("image/webp"), None);
        assert_eq!(ImageKind::from_media_type("application/octet-stream"), None);
        assert_eq!(ImageKind::Jpeg.media_type(), "image/jpeg");
    }

    #[test]
    fn reads_dimensions_from_headers() {
        assert_eq!(
            ImageKind::Png.dimensions(&png_header(760, 140)),
            Some((760, 140))
        );
        assert_eq!(
            ImageKind::Jpeg.dimensions(&jpeg_header(760, 140)),
            Some((760, 140))
        );
        assert_eq!(
            ImageKind::Gif.dimensions(&gif_header(65_535, 65_535)),
            Some((65_535, 65_535))
        );
        // A progressive frame header (SOF2) counts as well.
        let mut progressive = jpeg_header(10, 20);
        let sof = progressive.iter().position(|&byte| byte == 0xC0).unwrap();
        progressive[sof] = 0xC2;
        assert_eq!(ImageKind::Jpeg.dimensions(&progressive), Some((10, 20)));
    }

    #[test]
    fn malformed_headers_have_no_dimensions() {
        let png = png_header(760, 140);
        assert_eq!(ImageKind::Png.dimensions(&png[..20]), None, "truncated");
        let mut no_ihdr = png.clone();
        no_ihdr[12..16].copy_from_slice(b"IDAT");
        assert_eq!(ImageKind::Png.dimensions(&no_ihdr), None);
        let jpeg = jpeg_header(760, 140);
        assert_eq!(ImageKind::Jpeg.dimensions(&jpeg[..jpeg.len() - 10]), None);
        // Start of scan before any frame header.
        assert_eq!(
            ImageKind::Jpeg.dimensions(&[0xFF, 0xD8, 0xFF, 0xDA, 0, 2]),
            None
        );
        // A zero segment length would loop forever if taken as is.
        assert_eq!(
            ImageKind::Jpeg.dimensions(&[0xFF, 0xD8, 0xFF, 0xE0, 0, 0, 0xFF, 0xE0]),
            None
        );
        // Garbage after the signature.
        assert_eq!(ImageKind::Jpeg.dimensions(&[0xFF, 0xD8, 0xFF, 0x00]), None);
        assert_eq!(ImageKind::Gif.dimensions(b"GIF89a\x01"), None);
    }
}
