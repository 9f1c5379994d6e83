//! A source's last listing, as the `listings` tree keeps it.
//!
//! One entry per item: the hash of its folded title, the hash of its id, and
//! the id itself. A listed item is seen through its listing: a first poll
//! writes one record for its 30 items, not 30 `seen` records (one sled insert
//! per item was a third of a cold cycle's CPU time). An item gets a `seen`
//! record when it leaves its source's listing, under the id the listing kept,
//! so retention counts from then.
//!
//! Layout (schema 3), entry after entry: the title hash and the id hash (u64,
//! big-endian), then the id front-coded against the last id before it: how
//! many bytes it shares with it and how many follow (u32 each, big-endian;
//! both 0 for an entry without its id: one migrated from schema 2 whose
//! `seen` record was not found), and those bytes. A listing's ids share
//! their site's prefix: front-coded, the 30 ids of the captured MOFA listing
//! (`https://www.mofa.go.jp/mofaj/press/release/pressit_000001_04063.html`
//! and the like) take 20 bytes each on average instead of 67.

use foldhash::HashMap;

use super::hash64;
use crate::extract::Item;

/// One item of a listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listed {
    /// The hash of the folded title, to tell a site that moved its pages.
    pub title: u64,
    /// The hash of the item's id.
    pub id: u64,
    /// The item's id, written to `seen` when the item leaves the listing.
    pub key: Option<String>,
}

impl Listed {
    /// The items of a listing as it keeps them, in order; their titles are
    /// folded in one buffer.
    pub fn all<'a>(items: impl IntoIterator<Item = &'a Item>) -> Vec<Listed> {
        let mut folded = String::new();
        items
            .into_iter()
            .map(|item| {
                crate::text::fold_into(&item.title, &mut folded);
                Listed { title: hash64(&folded), id: hash64(&item.id), key: Some(item.id.clone()) }
            })
            .collect()
    }
}

const HEAD: usize = 8 + 8 + 4 + 4;

pub fn encode(listing: &[Listed]) -> Vec<u8> {
    let mut out = Vec::with_capacity(listing.len() * (HEAD + 16));
    let mut last: &[u8] = &[];
    for l in listing {
        out.extend_from_slice(&l.title.to_be_bytes());
        out.extend_from_slice(&l.id.to_be_bytes());
        let key = l.key.as_deref().unwrap_or_default().as_bytes();
        let shared = key.iter().zip(last).take_while(|(a, b)| a == b).count();
        // Response bodies are capped far below 4 GiB, and so are ids.
        let number = |n: usize| u32::try_from(n).unwrap_or(0).to_be_bytes();
        out.extend_from_slice(&number(shared));
        out.extend_from_slice(&number(key.len() - shared));
        out.extend_from_slice(&key[shared..]);
        if !key.is_empty() {
            last = key;
        }
    }
    out
}

/// One entry as stored: the title and id hashes, and the id's bytes shared
/// with the last id before it and its own.
type Entry<'a> = (u64, u64, usize, &'a [u8]);

/// The entries of an encoded listing, borrowed; `None` where the bytes end
/// inside an entry.
pub fn entries(bytes: &[u8]) -> impl Iterator<Item = Option<Entry<'_>>> {
    let mut rest = bytes;
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        let Some((head, tail)) = rest.split_first_chunk::<HEAD>() else {
            rest = &[];
            return Some(None);
        };
        let u64_at = |at: usize| u64::from_be_bytes(head[at..at + 8].try_into().unwrap_or_default());
        let u32_at = |at: usize| u32::from_be_bytes(head[at..at + 4].try_into().unwrap_or_default()) as usize;
        let Some((own, tail)) = tail.split_at_checked(u32_at(20)) else {
            rest = &[];
            return Some(None);
        };
        rest = tail;
        Some(Some((u64_at(0), u64_at(8), u32_at(16), own)))
    })
}

/// The id hashes of an encoded listing, up to where it ends inside an entry.
pub fn ids(bytes: &[u8]) -> impl Iterator<Item = u64> {
    entries(bytes).map_while(|e| e.map(|(_, id, _, _)| id))
}

/// An encoded listing; `None` if the bytes are not one.
pub fn decode(bytes: &[u8]) -> Option<Vec<Listed>> {
    decoded(bytes).collect()
}

/// The entries of an encoded listing up to the first that cannot be read:
/// what is left of a record cut by a disk fault.
pub fn readable(bytes: &[u8]) -> Vec<Listed> {
    decoded(bytes).map_while(|l| l).collect()
}

/// Each entry decoded, its id put together from the one before it; `None`
/// for an entry that cannot be read.
fn decoded(bytes: &[u8]) -> impl Iterator<Item = Option<Listed>> {
    let mut last: Vec<u8> = Vec::new();
    entries(bytes).map(move |e| {
        let (title, id, shared, own) = e?;
        if shared == 0 && own.is_empty() {
            return Some(Listed { title, id, key: None });
        }
        let mut key = last.get(..shared)?.to_vec();
        key.extend_from_slice(own);
        last.clone_from(&key);
        Some(Listed { title, id, key: Some(String::from_utf8(key).ok()?) })
    })
}

/// What every source lists now, so that an item one source lists is not
/// news when another lists it: each source's id hashes, and how many
/// listings hold each. A source's listing is set whole, so the index holds
/// only what is listed now (some 30 items a source) however long the daemon
/// runs, and setting the same listing twice changes nothing.
#[derive(Debug, Default)]
pub struct Index {
    counts: HashMap<u64, u32>,
    by_source: HashMap<String, Vec<u64>>,
}

impl Index {
    /// Sets what `source` lists, replacing what it listed before.
    pub fn set(&mut self, source: &str, ids: Vec<u64>) {
        for id in self.by_source.remove(source).into_iter().flatten() {
            if let Some(n) = self.counts.get_mut(&id) {
                *n -= 1;
                if *n == 0 {
                    self.counts.remove(&id);
                }
            }
        }
        for id in &ids {
            *self.counts.entry(*id).or_default() += 1;
        }
        self.by_source.insert(source.to_owned(), ids);
    }

    pub fn contains(&self, id: u64) -> bool {
        self.counts.contains_key(&id)
    }

    /// How many different ids are listed.
    #[cfg(test)]
    pub fn distinct(&self) -> usize {
        self.counts.len()
    }
}

/// A listing of schema 2: (title hash, id hash) pairs, 16 bytes each. Every
/// item in it has a `seen` record. `None` if the bytes are not one.
pub fn decode_schema_2(bytes: &[u8]) -> Option<Vec<Listed>> {
    if !bytes.len().is_multiple_of(16) {
        return None;
    }
    let listing = bytes
        .chunks_exact(16)
        .map(|c| {
            let (t, i) = c.split_at(8);
            Listed {
                title: u64::from_be_bytes(t.try_into().unwrap_or_default()),
                id: u64::from_be_bytes(i.try_into().unwrap_or_default()),
                key: None,
            }
        })
        .collect();
    Some(listing)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_listing_reads_back_as_written_and_a_cut_one_is_refused() {
        let key = |k: &str| Some(k.to_owned());
        let listing = vec![
            Listed { title: 1, id: 2, key: key("https://www.mod.go.jp/j/press/news/2018/06/29a.html") },
            Listed { title: u64::MAX, id: 0, key: None },
            Listed { title: 3, id: 4, key: key("https://www.mod.go.jp/j/press/news/2018/06/29b.html") },
            // Sharing a prefix that ends inside a character.
            Listed { title: 5, id: 6, key: key("urn:衛") },
            Listed { title: 7, id: 8, key: key("urn:衡") },
            Listed { title: 9, id: 10, key: key("urn:") },
        ];
        let bytes = encode(&listing);
        assert_eq!(decode(&bytes), Some(listing.clone()));
        // Each id after the first stores only what differs: `b.html`, all
        // of `urn:衛`, the last byte of 衡, nothing.
        assert_eq!(bytes.len(), 6 * HEAD + 51 + 6 + 7 + 1);
        assert_eq!(decode(&[]), Some(Vec::new()));
        for cut in [1, HEAD - 1, HEAD + 3, bytes.len() - 1] {
            assert_eq!(decode(&bytes[..cut]), None, "cut at {cut}");
        }
        // What is left of a cut record: the entries before the cut.
        assert_eq!(readable(&bytes[..bytes.len() - 1]), listing[..5]);
        assert_eq!(readable(&bytes[..HEAD + 3]), []);
        let mut index = Index::default();
        index.set("s", ids(&bytes).collect());
        assert!(index.contains(2) && index.contains(10) && !index.contains(1));
        // Another source lists 2 and 11; then the first listing is replaced,
        // twice over.
        index.set("t", vec![2, 11]);
        index.set("s", vec![4]);
        index.set("s", vec![4]);
        assert!(index.contains(2) && index.contains(4) && index.contains(11) && !index.contains(10));
        assert_eq!(index.distinct(), 3);
        index.set("t", Vec::new());
        assert!(!index.contains(2) && index.contains(4));
        // A shared length longer than the id before it is refused.
        let mut bad = encode(&listing[..1]);
        bad[16..20].copy_from_slice(&1u32.to_be_bytes());
        assert_eq!(decode(&bad), None);
    }
}
