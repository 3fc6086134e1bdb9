//! Bounded, zeroizing reads of plaintext out of sequoia's streaming
//! decryptor/verifier.

use std::io::{self, Read};

use openpgp::parse::stream::DEFAULT_BUFFER_SIZE;
use sequoia_openpgp as openpgp;
use zeroize::Zeroizing;

use crate::PgpError;

/// Read chunk size.
const CHUNK: usize = 16 * 1024;

/// Why a bounded read failed.
pub(crate) enum ReadError {
    /// More than the limit was produced.
    TooLarge,
    /// The reader failed (decryption, integrity, parse error ...).
    Io(io::Error),
}

impl ReadError {
    pub(crate) fn into_pgp_error(self, limit: usize) -> PgpError {
        match self {
            ReadError::TooLarge => PgpError::TooLarge { limit },
            ReadError::Io(e) => crate::decrypt::classify_io(&e),
        }
    }
}

/// Sequoia's internal buffer for a given plaintext bound: sequoia holds
/// up to this much (decompressed) data in memory before it hands out the
/// first byte, so it must not be much larger than the bound itself.
pub(crate) fn buffer_size(limit: usize) -> usize {
    limit.saturating_add(1).min(DEFAULT_BUFFER_SIZE)
}

/// Reads everything from `reader`, failing as soon as more than `limit`
/// bytes were produced.  The buffer grows by explicit copying so that no
/// unzeroed copy of the plaintext is left behind by a reallocation.
pub(crate) fn read<R: Read>(reader: &mut R, limit: usize) -> Result<Zeroizing<Vec<u8>>, ReadError> {
    let mut out = Zeroizing::new(Vec::with_capacity(limit.min(64 * 1024)));
    let mut chunk = Zeroizing::new(vec![0u8; CHUNK]);
    loop {
        let n = match reader.read(chunk.as_mut_slice()) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(ReadError::Io(e)),
        };
        let data = chunk.get(..n).ok_or(ReadError::TooLarge)?;
        let new_len = out.len().checked_add(n).ok_or(ReadError::TooLarge)?;
        if new_len > limit {
            return Err(ReadError::TooLarge);
        }
        if new_len > out.capacity() {
            let new_cap = out.capacity().saturating_mul(2).max(new_len).min(limit);
            let mut bigger = Zeroizing::new(Vec::with_capacity(new_cap));
            bigger.extend_from_slice(&out);
            out = bigger; // the old buffer is zeroed on drop
        }
        out.extend_from_slice(data);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A reader that yields `total` bytes in odd-sized pieces.
    struct Pieces {
        left: usize,
    }

    impl Read for Pieces {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            let n = self.left.min(buf.len()).min(777);
            buf[..n].fill(7);
            self.left -= n;
            Ok(n)
        }
    }

    #[test]
    fn reads_up_to_the_limit() {
        for total in [0, 1, 777, CHUNK, CHUNK + 1, 100_000] {
            let out = read(&mut Pieces { left: total }, total).ok().unwrap();
            assert_eq!(out.len(), total);
            assert!(out.iter().all(|b| *b == 7));
        }
    }

    #[test]
    fn fails_past_the_limit() {
        assert!(matches!(
            read(&mut Pieces { left: 1001 }, 1000),
            Err(ReadError::TooLarge)
        ));
        assert!(matches!(
            read(&mut Pieces { left: 1 }, 0),
            Err(ReadError::TooLarge)
        ));
    }

    #[test]
    fn buffer_size_is_capped() {
        assert_eq!(buffer_size(10), 11);
        assert_eq!(buffer_size(usize::MAX), DEFAULT_BUFFER_SIZE);
    }
}
