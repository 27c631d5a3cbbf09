//! RGB pixels as PNG bytes, and as a `data:` URI that an SVG can embed.

use anyhow::Context;

/// Encodes `rgb` (row-major, 3 bytes per pixel) of a `width × height` image as a PNG file.
pub(crate) fn encode_png(width: u32, height: u32, rgb: &[u8]) -> anyhow::Result<Vec<u8>> {
    anyhow::ensure!(
        rgb.len() == 3 * width as usize * height as usize,
        "{} RGB bytes for a {width}×{height} image",
        rgb.len()
    );
    let mut bytes = Vec::new();
    {
        let mut encoder = png::Encoder::new(&mut bytes, width, height);
        encoder.set_color(png::ColorType::Rgb);
        encoder.set_depth(png::BitDepth::Eight);
        let mut writer = encoder.write_header().context("cannot start the PNG")?;
        writer
            .write_image_data(rgb)
            .context("cannot encode the PNG")?;
        writer.finish().context("cannot finish the PNG")?;
    }
    Ok(bytes)
}

/// Standard base64 (RFC 4648, with padding).
fn base64(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// The image as a `data:image/png;base64,...` URI.
pub(crate) fn png_data_uri(width: u32, height: u32, rgb: &[u8]) -> anyhow::Result<String> {
    Ok(format!(
        "data:image/png;base64,{}",
        base64(&encode_png(width, height, rgb)?)
    ))
}

#[cfg(test)]
mod tests {
    use super::base64;

    #[test]
    fn base64_of_rfc_4648_examples() {
        let cases = [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ];
        for (plain, encoded) in cases {
            assert_eq!(base64(plain.as_bytes()), encoded, "{plain}");
        }
    }
}
