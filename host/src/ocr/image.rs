//! What an image is and how big it claims to be, read from its header alone, so image
//! bombs (a small file declaring an enormous bitmap) are refused before any engine
//! decodes them.

use super::OcrError;

/// The image formats an engine is given; anything else is refused as unsupported.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImageFormat {
    /// PNG.
    Png,
    /// JPEG.
    Jpeg,
    /// GIF.
    Gif,
    /// BMP.
    Bmp,
    /// TIFF.
    Tiff,
    /// WebP.
    Webp,
}

/// The size limits an image must pass before OCR.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ImageLimits {
    /// The most bytes of encoded image.
    pub max_bytes: u64,
    /// The most pixels, width × height.
    pub max_pixels: u64,
    /// The widest or tallest side, in pixels.
    pub max_dimension: u32,
}

/// An image that passed the checks: its format (from its bytes, not the declared media
/// type) and dimensions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CheckedImage {
    /// The format the bytes are in.
    pub format: ImageFormat,
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
}

/// Checks `image` against `limits`: its bytes must be a supported format whose header
/// states dimensions within bounds. `content_type` only names the image in errors; the
/// bytes decide the format, so a PNG sent as `application/octet-stream` is read and a
/// file that merely claims to be a PNG is not.
pub(super) fn check(
    image: &[u8],
    content_type: &str,
    limits: &ImageLimits,
) -> Result<CheckedImage, OcrError> {
    if image.len() as u64 > limits.max_bytes {
        return Err(OcrError::TooLarge {
            reason: format!("{} bytes, at most {}", image.len(), limits.max_bytes),
        });
    }
    let unsupported = || OcrError::UnsupportedFormat {
        content_type: content_type.to_owned(),
    };
    let format = match imagesize::image_type(image).map_err(|_| unsupported())? {
        imagesize::ImageType::Png => ImageFormat::Png,
        imagesize::ImageType::Jpeg => ImageFormat::Jpeg,
        imagesize::ImageType::Gif => ImageFormat::Gif,
        imagesize::ImageType::Bmp => ImageFormat::Bmp,
        imagesize::ImageType::Tiff => ImageFormat::Tiff,
        imagesize::ImageType::Webp => ImageFormat::Webp,
        _ => return Err(unsupported()),
    };
    let size = imagesize::blob_size(image).map_err(|e| OcrError::Failed {
        reason: format!("unreadable {format:?} header: {e}"),
    })?;
    let (width, height) = (size.width as u64, size.height as u64);
    if width == 0 || height == 0 {
        return Err(OcrError::Failed {
            reason: format!("the {format:?} header declares a {width}×{height} image"),
        });
    }
    let max_side = u64::from(limits.max_dimension);
    if width > max_side || height > max_side {
        return Err(OcrError::TooLarge {
            reason: format!("{width}×{height} pixels, at most {max_side} on a side"),
        });
    }
    let pixels = width.saturating_mul(height);
    if pixels > limits.max_pixels {
        return Err(OcrError::TooLarge {
            reason: format!(
                "{width}×{height} = {pixels} pixels, at most {}",
                limits.max_pixels
            ),
        });
    }
    Ok(CheckedImage {
        format,
        // Both fit: they are at most max_dimension, a u32.
        width: u32::try_from(width).unwrap_or(u32::MAX),
        height: u32::try_from(height).unwrap_or(u32::MAX),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMITS: ImageLimits = ImageLimits {
        max_bytes: 1 << 20,
        max_pixels: 4_000_000,
        max_dimension: 4000,
    };

    /// A PNG signature and IHDR chunk declaring `width`×`height` (no pixel data: the
    /// header is all the check reads).
    fn png_header(width: u32, height: u32) -> Vec<u8> {
        let mut png = b"\x89PNG\r\n\x1a\n\0\0\0\x0dIHDR".to_vec();
        png.extend_from_slice(&width.to_be_bytes());
        png.extend_from_slice(&height.to_be_bytes());
        png.extend_from_slice(&[8, 2, 0, 0, 0, 0, 0, 0, 0]);
        png
    }

    #[test]
    fn a_png_within_limits_passes_whatever_its_declared_type() {
        let checked = check(&png_header(760, 200), "application/octet-stream", &LIMITS).unwrap();
        assert_eq!(
            checked,
            CheckedImage {
                format: ImageFormat::Png,
                width: 760,
                height: 200
            }
        );
    }

    #[test]
    fn an_image_bomb_is_refused_from_its_header() {
        let bomb = png_header(3000, 3000);
        assert!(bomb.len() < 40);
        let error = check(&bomb, "image/png", &LIMITS).unwrap_err();
        assert!(
            matches!(&error, OcrError::TooLarge { reason } if reason.contains("9000000 pixels")),
            "{error}"
        );
        let tall = check(&png_header(10, 50_000), "image/png", &LIMITS).unwrap_err();
        assert!(matches!(tall, OcrError::TooLarge { .. }), "{tall}");
    }

    #[test]
    fn too_many_bytes_are_refused_before_looking_inside() {
        let big = vec![0u8; (LIMITS.max_bytes + 1) as usize];
        assert!(matches!(
            check(&big, "image/png", &LIMITS),
            Err(OcrError::TooLarge { .. })
        ));
    }

    #[test]
    fn bytes_that_are_no_image_are_unsupported() {
        let error = check(b"<html>not a picture</html>", "image/png", &LIMITS).unwrap_err();
        assert_eq!(
            error,
            OcrError::UnsupportedFormat {
                content_type: "image/png".into()
            }
        );
    }

    #[test]
    fn a_truncated_header_fails_clearly() {
        let truncated = &png_header(760, 200)[..18];
        let error = check(truncated, "image/png", &LIMITS).unwrap_err();
        assert!(
            matches!(
                error,
                OcrError::Failed { .. } | OcrError::UnsupportedFormat { .. }
            ),
            "{error}"
        );
        let zero = check(&png_header(0, 10), "image/png", &LIMITS).unwrap_err();
        assert!(matches!(zero, OcrError::Failed { .. }), "{zero}");
    }

    #[test]
    fn corpus_images_pass() {
        let dir = moat_test_support::shared_dir().join("corpus/images/spam");
        let mut seen = 0;
        for entry in std::fs::read_dir(&dir).unwrap() {
            let bytes = std::fs::read(entry.unwrap().path()).unwrap();
            let checked = check(&bytes, "image/png", &LIMITS).unwrap();
            assert_eq!(checked.width, 760);
            seen += 1;
        }
        assert!(seen > 0, "no images in {}", dir.display());
    }
}
