//! A source's last listing, as the `listings` tree keeps it.
//!
//! One entry per item: the hash of its folded title, the hash of its id, and,
//! while the listing is the only record that the item was seen, the id
//! itself. A listed item is seen through its listing: a first poll writes one
//! record for its 30 items, not 30 `seen` records (one sled insert per item
//! was a third of a cold cycle's CPU time). An item gets a `seen` record when
//! it leaves its source's listing, under the id the listing kept.
//!
//! Layout (schema 3), entry after entry: the title hash and the id hash (u64,
//! big-endian), the id's length in bytes (u32, big-endian; 0 when a `seen`
//! record holds the item already) and the id's bytes.

/// One item of a listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listed {
    /// The hash of the folded title, to tell a site that moved its pages.
    pub title: u64,
    /// The hash of the item's id.
    pub id: u64,
    /// The item's id, kept while no `seen` record holds it.
    pub key: Option<String>,
}

const HEAD: usize = 8 + 8 + 4;

pub fn encode(listing: &[Listed]) -> Vec<u8> {
    let size = listing.iter().map(|l| HEAD + l.key.as_ref().map_or(0, String::len)).sum();
    let mut out = Vec::with_capacity(size);
    for l in listing {
        let key = l.key.as_deref().unwrap_or_default().as_bytes();
        out.extend_from_slice(&l.title.to_be_bytes());
        out.extend_from_slice(&l.id.to_be_bytes());
        // Response bodies are capped far below 4 GiB, and so are ids.
        let len = u32::try_from(key.len()).unwrap_or(0);
        out.extend_from_slice(&len.to_be_bytes());
        out.extend_from_slice(&key[..len as usize]);
    }
    out
}

/// The entries of an encoded listing, borrowed; `None` where the bytes end
/// inside an entry.
pub fn entries(bytes: &[u8]) -> impl Iterator<Item = Option<(u64, u64, &[u8])>> {
    let mut rest = bytes;
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        let Some((head, tail)) = rest.split_first_chunk::<HEAD>() else {
            rest = &[];
            return Some(None);
        };
        let number = |at: usize| u64::from_be_bytes(head[at..at + 8].try_into().unwrap_or_default());
        let len = u32::from_be_bytes(head[16..].try_into().unwrap_or_default()) as usize;
        let Some((key, tail)) = tail.split_at_checked(len) else {
            rest = &[];
            return Some(None);
        };
        rest = tail;
        Some(Some((number(0), number(8), key)))
    })
}

/// An encoded listing; `None` if the bytes are not one.
pub fn decode(bytes: &[u8]) -> Option<Vec<Listed>> {
    entries(bytes)
        .map(|e| {
            let (title, id, key) = e?;
            let key = (!key.is_empty()).then(|| String::from_utf8(key.to_vec())).transpose().ok()?;
            Some(Listed { title, id, key })
        })
        .collect()
}

/// A listing of schema 2: (title hash, id hash) pairs, 16 bytes each. Every
/// item in it has a `seen` record.
pub fn decode_schema_2(bytes: &[u8]) -> Vec<Listed> {
    bytes
        .chunks_exact(16)
        .map(|c| {
            let (t, i) = c.split_at(8);
            Listed {
                title: u64::from_be_bytes(t.try_into().unwrap_or_default()),
                id: u64::from_be_bytes(i.try_into().unwrap_or_default()),
                key: None,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_listing_reads_back_as_written_and_a_cut_one_is_refused() {
        let listing = vec![
            Listed { title: 1, id: 2, key: Some("https://www.mod.go.jp/j/press/news/2018/06/29a.html".into()) },
            Listed { title: u64::MAX, id: 0, key: None },
            Listed { title: 3, id: 4, key: Some("urn:uuid:防衛".into()) },
        ];
        let bytes = encode(&listing);
        assert_eq!(decode(&bytes), Some(listing));
        assert_eq!(decode(&[]), Some(Vec::new()));
        for cut in [1, HEAD - 1, HEAD + 3, bytes.len() - 1] {
            assert_eq!(decode(&bytes[..cut]), None, "cut at {cut}");
        }
    }
}
