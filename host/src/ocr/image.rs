//! What an image is and how big it claims to be, read from its header and (GIF, TIFF) the
//! header of each frame alone, so image bombs (a small file declaring an enormous bitmap,
//! or hiding one behind a small first frame) are refused before any engine decodes them.

use super::OcrError;
use super::frames::{self, FrameError};

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
    /// The most frames (GIF) or pages (TIFF); each is held to the pixel limits too.
    pub max_frames: u32,
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
    /// Frames (GIF) or pages (TIFF); 1 for the other formats.
    pub frames: u32,
}

/// Checks `image` against `limits`: its bytes must be a supported format whose header
/// states dimensions within bounds, and for GIF and TIFF so must every frame or page, of
/// which there may be at most `max_frames`. `content_type` only names the image in errors;
/// the bytes decide the format, so a PNG sent as `application/octet-stream` is read and a
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
    within_limits(width, height, limits, "")?;
    let frames = check_frames(format, image, limits)?;
    Ok(CheckedImage {
        format,
        // Both fit: they are at most max_dimension, a u32.
        width: u32::try_from(width).unwrap_or(u32::MAX),
        height: u32::try_from(height).unwrap_or(u32::MAX),
        frames,
    })
}

/// Checks every frame of a GIF and every page of a TIFF against `limits`; their number.
/// The other formats hold one image as far as the engine is concerned (it decodes no APNG
/// frame, nor an animated WebP).
fn check_frames(format: ImageFormat, image: &[u8], limits: &ImageLimits) -> Result<u32, OcrError> {
    let (walked, name) = match format {
        ImageFormat::Gif => (frames::gif(image, limits.max_frames), "frame"),
        ImageFormat::Tiff => (frames::tiff(image, limits.max_frames), "page"),
        _ => return Ok(1),
    };
    let sizes = walked.map_err(|error| match error {
        FrameError::TooMany { .. } => OcrError::TooLarge {
            reason: format!("{format:?}: {error}"),
        },
        _ => OcrError::Failed {
            reason: format!("{format:?}: {error}"),
        },
    })?;
    for (n, &(width, height)) in sizes.iter().enumerate() {
        let whose = format!("{format:?} {name} {}: ", n + 1);
        within_limits(width.into(), height.into(), limits, &whose)?;
    }
    // At most max_frames, a u32.
    Ok(u32::try_from(sizes.len()).unwrap_or(u32::MAX))
}

/// Whether an image (or the frame `whose` names, as a prefix of the reason) of
/// `width`×`height` is within `max_dimension` and `max_pixels`.
fn within_limits(
    width: u64,
    height: u64,
    limits: &ImageLimits,
    whose: &str,
) -> Result<(), OcrError> {
    let max_side = u64::from(limits.max_dimension);
    if width > max_side || height > max_side {
        return Err(OcrError::TooLarge {
            reason: format!("{whose}{width}×{height} pixels, at most {max_side} on a side"),
        });
    }
    let pixels = width.saturating_mul(height);
    if pixels > limits.max_pixels {
        return Err(OcrError::TooLarge {
            reason: format!(
                "{whose}{width}×{height} = {pixels} pixels, at most {}",
                limits.max_pixels
            ),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMITS: ImageLimits = ImageLimits {
        max_bytes: 1 << 20,
        max_pixels: 4_000_000,
        max_dimension: 4000,
        max_frames: 16,
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
                height: 200,
                frames: 1,
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

    /// A GIF89a of a `screen` logical screen with a global colour table, a comment
    /// extension, then one image per entry of `frames` (each with a graphic control
    /// extension, a local colour table and a little LZW data: nothing is decoded), then
    /// the trailer.
    fn gif(screen: (u16, u16), frames: &[(u16, u16)]) -> Vec<u8> {
        let mut gif = b"GIF89a".to_vec();
        gif.extend_from_slice(&screen.0.to_le_bytes());
        gif.extend_from_slice(&screen.1.to_le_bytes());
        // A global colour table of 4 entries.
        gif.extend_from_slice(&[0x81, 0, 0]);
        gif.extend_from_slice(&[0; 12]);
        gif.extend_from_slice(b"\x21\xFE\x03abc\x02de\x00");
        for &(width, height) in frames {
            gif.extend_from_slice(&[0x21, 0xF9, 4, 0, 10, 0, 0, 0]);
            gif.extend_from_slice(&[0x2C, 0, 0, 0, 0]);
            gif.extend_from_slice(&width.to_le_bytes());
            gif.extend_from_slice(&height.to_le_bytes());
            // A local colour table of 2 entries, LZW minimum code size 2, two sub-blocks.
            gif.extend_from_slice(&[0x80, 1, 2, 3, 4, 5, 6, 2, 2, 0x44, 0x01, 1, 0x05, 0]);
        }
        gif.push(0x3B);
        gif
    }

    /// A little-endian classic TIFF with one directory per entry of `pages` (its width
    /// and height as LONGs), chained in order; `next_of_last` is the last directory's
    /// next pointer (0: the end).
    fn tiff(pages: &[(u32, u32)], next_of_last: u32) -> Vec<u8> {
        let mut tiff = b"II*\0\x08\0\0\0".to_vec();
        for (n, &(width, height)) in pages.iter().enumerate() {
            let directory_len = 2 + 3 * 12 + 4;
            let next = if n + 1 == pages.len() {
                next_of_last
            } else {
                u32::try_from(tiff.len() + directory_len).unwrap()
            };
            tiff.extend_from_slice(&3u16.to_le_bytes());
            for (tag, field_type, value) in [(256u16, 4u16, width), (257, 4, height), (258, 3, 8)] {
                tiff.extend_from_slice(&tag.to_le_bytes());
                tiff.extend_from_slice(&field_type.to_le_bytes());
                tiff.extend_from_slice(&1u32.to_le_bytes());
                tiff.extend_from_slice(&value.to_le_bytes());
            }
            tiff.extend_from_slice(&next.to_le_bytes());
        }
        tiff
    }

    /// Where the `n`-th directory (from 0) of a [`tiff`] starts.
    fn directory_at(n: usize) -> u32 {
        u32::try_from(8 + n * (2 + 3 * 12 + 4)).unwrap()
    }

    fn too_large(result: Result<CheckedImage, OcrError>) -> String {
        match result {
            Err(OcrError::TooLarge { reason }) => reason,
            other => panic!("not refused as too large: {other:?}"),
        }
    }

    fn failed(result: Result<CheckedImage, OcrError>) -> String {
        match result {
            Err(OcrError::Failed { reason }) => reason,
            other => panic!("not refused as corrupt: {other:?}"),
        }
    }

    #[test]
    fn every_gif_frame_is_held_to_the_limits() {
        let fine = check(
            &gif((16, 16), &[(16, 16), (8, 8), (16, 4)]),
            "image/gif",
            &LIMITS,
        );
        assert_eq!(fine.unwrap().frames, 3);
        // A small logical screen and first frame, then a 65535 × 65535 frame.
        let bomb = gif((16, 16), &[(16, 16), (65_535, 65_535)]);
        assert!(bomb.len() < 100);
        assert_eq!(
            too_large(check(&bomb, "image/gif", &LIMITS)),
            "Gif frame 2: 65535×65535 pixels, at most 4000 on a side"
        );
        let wide = gif((16, 16), &[(16, 16), (16, 16), (3000, 3000)]);
        assert_eq!(
            too_large(check(&wide, "image/gif", &LIMITS)),
            "Gif frame 3: 3000×3000 = 9000000 pixels, at most 4000000"
        );
    }

    #[test]
    fn a_gif_of_too_many_frames_is_refused() {
        let frames = vec![(4, 4); 16];
        assert_eq!(
            check(&gif((4, 4), &frames), "image/gif", &LIMITS)
                .unwrap()
                .frames,
            16
        );
        let frames = vec![(4, 4); 17];
        assert_eq!(
            too_large(check(&gif((4, 4), &frames), "image/gif", &LIMITS)),
            "Gif: more than 16 frames (max_frames)"
        );
    }

    #[test]
    fn malformed_gifs_fail_cleanly() {
        let mut unknown = gif((4, 4), &[(4, 4)]);
        let trailer = unknown.len() - 1;
        unknown[trailer] = 0x00;
        assert_eq!(
            failed(check(&unknown, "image/gif", &LIMITS)),
            format!("Gif: unknown GIF block 0x00 at byte {trailer}")
        );
        assert_eq!(
            failed(check(&gif((4, 4), &[]), "image/gif", &LIMITS)),
            "Gif: no image in the file"
        );
        assert_eq!(
            failed(check(&gif((4, 4), &[(4, 4), (0, 4)]), "image/gif", &LIMITS)),
            "Gif: frame 2 declares a 0×4 image"
        );
        // Cut inside the second frame's data: the frames before it are all there is.
        let whole = gif((4, 4), &[(4, 4), (4, 4)]);
        let cut = &whole[..whole.len() - 4];
        assert_eq!(check(cut, "image/gif", &LIMITS).unwrap().frames, 2);
    }

    #[test]
    fn every_tiff_page_is_held_to_the_limits() {
        let three = tiff(&[(100, 100), (200, 50), (10, 10)], 0);
        assert_eq!(check(&three, "image/tiff", &LIMITS).unwrap().frames, 3);
        let bomb = tiff(&[(100, 100), (65_535, 65_535)], 0);
        assert_eq!(
            too_large(check(&bomb, "image/tiff", &LIMITS)),
            "Tiff page 2: 65535×65535 pixels, at most 4000 on a side"
        );
        // Big-endian, the sizes as SHORTs (left-justified in the value field).
        let mut big_endian = b"MM\0*\0\0\0\x08".to_vec();
        for (n, size) in [100u16, 4000].into_iter().enumerate() {
            let next: u32 = if n == 0 { 8 + 2 + 2 * 12 + 4 } else { 0 };
            big_endian.extend_from_slice(&2u16.to_be_bytes());
            for tag in [256u16, 257] {
                big_endian.extend_from_slice(&tag.to_be_bytes());
                big_endian.extend_from_slice(&3u16.to_be_bytes());
                big_endian.extend_from_slice(&1u32.to_be_bytes());
                big_endian.extend_from_slice(&size.to_be_bytes());
                big_endian.extend_from_slice(&[0, 0]);
            }
            big_endian.extend_from_slice(&next.to_be_bytes());
        }
        assert_eq!(
            too_large(check(&big_endian, "image/tiff", &LIMITS)),
            "Tiff page 2: 4000×4000 = 16000000 pixels, at most 4000000"
        );
    }

    #[test]
    fn a_bigtiff_is_walked_too() {
        let mut big = b"II+\0\x08\0\0\0\x10\0\0\0\0\0\0\0".to_vec();
        for (n, (field_type, size)) in [(4u16, 100u64), (16, 1 << 40)].into_iter().enumerate() {
            let next: u64 = if n == 0 { 16 + 8 + 2 * 20 + 8 } else { 0 };
            big.extend_from_slice(&2u64.to_le_bytes());
            for tag in [256u16, 257] {
                big.extend_from_slice(&tag.to_le_bytes());
                big.extend_from_slice(&field_type.to_le_bytes());
                big.extend_from_slice(&1u64.to_le_bytes());
                big.extend_from_slice(&size.to_le_bytes());
            }
            big.extend_from_slice(&next.to_le_bytes());
        }
        assert_eq!(
            too_large(check(&big, "image/tiff", &LIMITS)),
            "Tiff page 2: 4294967295×4294967295 pixels, at most 4000 on a side"
        );
    }

    #[test]
    fn a_tiff_of_many_pages_is_refused_after_reading_only_as_many_as_allowed() {
        assert_eq!(
            check(&tiff(&[(10, 10); 16], 0), "image/tiff", &LIMITS)
                .unwrap()
                .frames,
            16
        );
        let many = tiff(&[(10, 10); 500], 0);
        assert!(many.len() < 25_000);
        assert_eq!(
            too_large(check(&many, "image/tiff", &LIMITS)),
            "Tiff: more than 16 pages (max_frames)"
        );
        // Past the limit the walk stops: what follows is never read.
        let mut cut = tiff(&[(10, 10); 17], 0);
        cut.truncate(directory_at(16) as usize + 2);
        assert_eq!(
            too_large(check(&cut, "image/tiff", &LIMITS)),
            "Tiff: more than 16 pages (max_frames)"
        );
    }

    #[test]
    fn looping_and_malformed_directory_chains_fail_cleanly() {
        let to_itself = tiff(&[(10, 10)], directory_at(0));
        assert_eq!(
            failed(check(&to_itself, "image/tiff", &LIMITS)),
            "Tiff: the TIFF directory chain loops back to byte 8"
        );
        let back_to_the_second = tiff(&[(10, 10), (10, 10), (10, 10)], directory_at(1));
        assert_eq!(
            failed(check(&back_to_the_second, "image/tiff", &LIMITS)),
            "Tiff: the TIFF directory chain loops back to byte 50"
        );
        let past_the_end = tiff(&[(10, 10)], 1 << 20);
        assert_eq!(
            failed(check(&past_the_end, "image/tiff", &LIMITS)),
            "Tiff: a TIFF directory at byte 1048576 runs past the end of the image"
        );
        let mut overlong = tiff(&[(10, 10), (10, 10)], 0);
        let second = directory_at(1) as usize;
        overlong[second..second + 2].copy_from_slice(&u16::MAX.to_le_bytes());
        assert_eq!(
            failed(check(&overlong, "image/tiff", &LIMITS)),
            "Tiff: a TIFF directory at byte 50 runs past the end of the image"
        );
        let mut no_height = tiff(&[(10, 10), (10, 10)], 0);
        // The second directory's ImageLength tag becomes tag 300.
        no_height[second + 2 + 12..second + 2 + 14].copy_from_slice(&300u16.to_le_bytes());
        assert_eq!(
            failed(check(&no_height, "image/tiff", &LIMITS)),
            "Tiff: TIFF page 2 has no ImageLength"
        );
        assert_eq!(
            failed(check(&tiff(&[(10, 10), (0, 10)], 0), "image/tiff", &LIMITS)),
            "Tiff: page 2 declares a 0×10 image"
        );
        // A directory of 2,000 entries, the size tags last: the search stops after 1,024
        // (directories may overlap: max_frames of them must not each run through the file).
        let mut long_directory = b"II*\0\x08\0\0\0".to_vec();
        long_directory.extend_from_slice(&2000u16.to_le_bytes());
        for n in 0..2000u16 {
            let tag = if n < 1998 { 300 } else { 256 + n - 1998 };
            long_directory.extend_from_slice(&tag.to_le_bytes());
            long_directory.extend_from_slice(&[4, 0, 1, 0, 0, 0, 10, 0, 0, 0]);
        }
        long_directory.extend_from_slice(&[0; 4]);
        assert_eq!(
            failed(check(&long_directory, "image/tiff", &LIMITS)),
            "Tiff: TIFF page 1 has no ImageWidth"
        );
        let mut ascii_width = tiff(&[(10, 10), (10, 10)], 0);
        ascii_width[second + 4..second + 6].copy_from_slice(&2u16.to_le_bytes());
        assert_eq!(
            failed(check(&ascii_width, "image/tiff", &LIMITS)),
            "Tiff: the ImageWidth of TIFF page 2 has field type 2"
        );
    }

    /// Every prefix of `image`, and `image` with each byte in turn set to each of a few
    /// values: the check answers for each (whatever it answers) without panicking.
    fn survives_damage(image: &[u8]) {
        for len in 0..image.len() {
            let _ = check(&image[..len], "image/x", &LIMITS);
        }
        let mut damaged = image.to_vec();
        for at in 0..image.len() {
            for byte in [0x00, 0x01, 0x2C, 0x3B, 0x7F, 0x80, 0xFF] {
                damaged[at] = byte;
                let _ = check(&damaged, "image/x", &LIMITS);
            }
            damaged[at] = image[at];
        }
    }

    #[test]
    fn damaged_gifs_and_tiffs_never_panic() {
        survives_damage(&gif((16, 16), &[(16, 16), (8, 8)]));
        survives_damage(&tiff(&[(10, 10), (20, 20), (30, 30)], 0));
    }
}
