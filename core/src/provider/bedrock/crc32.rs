//! CRC-32 (IEEE 802.3, the one gzip and zlib use), which checks every AWS
//! event-stream frame.
//!
//! A 256-entry table built at compile time (1 KiB of data) and one table step
//! per byte. Frames are a few hundred bytes, so this costs nothing next to the
//! JSON they carry, and it keeps the Wasm smaller than a slice-by-16 crate's
//! 16 KiB of tables.

/// The reflected form of the polynomial 0x04C11DB7.
const POLYNOMIAL: u32 = 0xEDB8_8320;

const TABLE: [u32; 256] = table();

const fn table() -> [u32; 256] {
    let mut table = [0u32; 256];
    let mut byte = 0;
    while byte < 256 {
        let mut crc = byte as u32;
        let mut bit = 0;
        while bit < 8 {
            crc = if crc & 1 == 1 { (crc >> 1) ^ POLYNOMIAL } else { crc >> 1 };
            bit += 1;
        }
        table[byte] = crc;
        byte += 1;
    }
    table
}

/// A running checksum: fed bytes in any number of pieces, it gives the CRC of
/// them all.
#[derive(Debug, Clone, Copy)]
pub struct Crc32(u32);

impl Default for Crc32 {
    fn default() -> Self {
        Self::new()
    }
}

impl Crc32 {
    pub fn new() -> Self {
        Self(!0)
    }

    pub fn update(&mut self, bytes: &[u8]) {
        let mut crc = self.0;
        for &byte in bytes {
            crc = TABLE[((crc ^ u32::from(byte)) & 0xFF) as usize] ^ (crc >> 8);
        }
        self.0 = crc;
    }

    pub fn finish(self) -> u32 {
        !self.0
    }
}

/// The CRC of `bytes`.
pub fn checksum(bytes: &[u8]) -> u32 {
    let mut crc = Crc32::new();
    crc.update(bytes);
    crc.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_standard_check_value_is_reproduced() {
        // The check value every CRC-32/ISO-HDLC catalogue lists for "123456789".
        assert_eq!(checksum(b"123456789"), 0xCBF4_3926);
        assert_eq!(checksum(b""), 0);
        assert_eq!(checksum(b"The quick brown fox jumps over the lazy dog"), 0x414F_A339);
    }

    #[test]
    fn pieces_give_the_same_checksum_as_the_whole() {
        let data = b"event-stream frames are checked in pieces";
        for cut in 0..=data.len() {
            let mut crc = Crc32::new();
            crc.update(&data[..cut]);
            crc.update(&data[cut..]);
            assert_eq!(crc.finish(), checksum(data), "cut at {cut}");
        }
    }
}
