//! Standard base64 (RFC 4648 section 4, with `=` padding), as Kubernetes encodes `[]byte`
//! fields (`data` of a Secret, `binaryData` of a ConfigMap).
//!
//! Decoding follows Go's `base64.StdEncoding`, which the API server uses: padding is
//! required, `\r` and `\n` are ignored, anything else outside the alphabet is an error. The
//! errors never quote the input: it is usually a secret.

use std::fmt;

const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// Why a base64 string does not decode. Names a position, never the text.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DecodeError {
    /// Byte offset of the first offending character (or the input length for a truncated
    /// input).
    pub offset: usize,
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "illegal base64 data at input byte {}", self.offset)
    }
}

impl std::error::Error for DecodeError {}

/// Encodes `bytes` as padded standard base64.
pub fn encode(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

fn value_of(c: u8) -> Option<u32> {
    Some(match c {
        b'A'..=b'Z' => c - b'A',
        b'a'..=b'z' => c - b'a' + 26,
        b'0'..=b'9' => c - b'0' + 52,
        b'+' => 62,
        b'/' => 63,
        _ => return None,
    } as u32)
}

/// Decodes padded standard base64 (ignoring `\r` and `\n`).
pub fn decode(text: &str) -> Result<Vec<u8>, DecodeError> {
    // (offset in `text`, byte) of every significant character.
    let chars: Vec<(usize, u8)> = text
        .bytes()
        .enumerate()
        .filter(|&(_, b)| b != b'\r' && b != b'\n')
        .collect();
    let mut out = Vec::with_capacity(chars.len() / 4 * 3);
    for (q, quad) in chars.chunks(4).enumerate() {
        if quad.len() < 4 {
            return Err(DecodeError { offset: text.len() });
        }
        let last_quad = (q + 1) * 4 == chars.len();
        let mut n = 0u32;
        let mut pad = 0;
        for (i, &(offset, c)) in quad.iter().enumerate() {
            if c == b'=' {
                // Padding only at the end of the last quad, at most two characters.
                if !last_quad || i < 2 {
                    return Err(DecodeError { offset });
                }
                pad += 1;
                n <<= 6;
                continue;
            }
            if pad > 0 {
                return Err(DecodeError { offset });
            }
            let Some(v) = value_of(c) else {
                return Err(DecodeError { offset });
            };
            n = (n << 6) | v;
        }
        let bytes = [(n >> 16) as u8, (n >> 8) as u8, n as u8];
        out.extend_from_slice(&bytes[..3 - pad]);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_and_decodes_the_rfc_4648_vectors() {
        let vectors = [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ];
        for (plain, coded) in vectors {
            assert_eq!(encode(plain.as_bytes()), coded);
            assert_eq!(decode(coded).unwrap(), plain.as_bytes());
        }
        let all: Vec<u8> = (0..=255).collect();
        assert_eq!(decode(&encode(&all)).unwrap(), all);
    }

    #[test]
    fn decoding_ignores_newlines_and_rejects_everything_else_by_offset() {
        assert_eq!(decode("Zm9v\nYmFy\r\n").unwrap(), b"foobar");
        assert_eq!(decode("Zm9").unwrap_err().offset, 3);
        assert_eq!(decode("Zm!v").unwrap_err().offset, 2);
        assert_eq!(decode("Zg==Zg==").unwrap_err().offset, 2);
        assert_eq!(decode("Z===").unwrap_err().offset, 1);
        assert_eq!(decode("Zm=v").unwrap_err().offset, 3);
        let msg = decode("c2VjcmV0!").unwrap_err().to_string();
        assert!(!msg.contains("c2VjcmV0"), "{msg}");
    }
}
