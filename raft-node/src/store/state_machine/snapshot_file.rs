//! Snapshot bytes in files beside the database (`<data dir>/snapshots`), not in sled.
//!
//! At a million orders a snapshot is about 100 MB. Kept as a sled value, every build
//! passed it through sled's log and page cache, evicting the pages of the orders that
//! applies need, and left it in sled's files until sled reclaimed them.
//!
//! A file is complete on disk (temporary name, fsync, rename, fsync of the directory)
//! before the state machine records it as current in sled, so the record never names a
//! missing or partial file. Files no record names are what a crash left; they are removed.

use std::fs::{self, File};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

const SUFFIX: &str = ".snap";

/// Bytes written between two syncs of a snapshot file.
const SYNC_EVERY: usize = 4 << 20;

/// The directory of snapshot files.
#[derive(Debug, Clone)]
pub(super) struct SnapshotFiles {
    dir: PathBuf,
}

impl SnapshotFiles {
    pub(super) fn open(dir: PathBuf) -> io::Result<Self> {
        fs::create_dir_all(&dir)?;
        Ok(SnapshotFiles { dir })
    }

    /// The file name for the snapshot `snapshot_id` (ids hold a leader id and an index,
    /// which may print with characters a file name should not have).
    pub(super) fn name_for(snapshot_id: &str) -> String {
        let safe: String = snapshot_id
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '-' {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        format!("{safe}{SUFFIX}")
    }

    /// Writes `data` as `name`, durably: once this returns, the file survives a crash.
    ///
    /// Synced every [`SYNC_EVERY`] bytes, not once at the end: on ext4 a node's sled flush
    /// can wait for the journal to take every dirty block of the file first, and a single
    /// sync of 100 MB held a follower's appends long enough to start an election.
    pub(super) fn write(&self, name: &str, data: &[u8]) -> io::Result<()> {
        let temp = self.dir.join(format!("{name}.tmp"));
        let mut file = File::create(&temp)?;
        for chunk in data.chunks(SYNC_EVERY) {
            file.write_all(chunk)?;
            file.sync_data()?;
        }
        file.sync_all()?;
        drop(file);
        fs::rename(&temp, self.dir.join(name))?;
        File::open(&self.dir)?.sync_all()
    }

    pub(super) fn read(&self, name: &str) -> io::Result<Vec<u8>> {
        fs::read(self.dir.join(name))
    }

    /// The size of file `name` in bytes.
    pub(super) fn size(&self, name: &str) -> io::Result<u64> {
        Ok(fs::metadata(self.dir.join(name))?.len())
    }

    /// Removes every file but `keep`.
    pub(super) fn keep_only(&self, keep: Option<&str>) -> io::Result<()> {
        for entry in fs::read_dir(&self.dir)? {
            let entry = entry?;
            if keep.is_some_and(|k| entry.file_name() == Path::new(k).as_os_str()) {
                continue;
            }
            fs::remove_file(entry.path())?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_written_file_reads_back_and_others_are_removed() {
        let dir = tempfile::tempdir().unwrap();
        let files = SnapshotFiles::open(dir.path().join("snapshots")).unwrap();
        let name = SnapshotFiles::name_for("T1-N2.3/x-17-99");
        assert_eq!(name, "T1-N2_3_x-17-99.snap");
        files.write(&name, b"state").unwrap();
        files.write("old.snap", b"older").unwrap();
        fs::write(dir.path().join("snapshots/half.snap.tmp"), b"cut").unwrap();
        assert_eq!(files.read(&name).unwrap(), b"state");
        files.keep_only(Some(&name)).unwrap();
        let left: Vec<_> = fs::read_dir(dir.path().join("snapshots"))
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        assert_eq!(left, vec![name]);
        // Written in synced pieces, read back whole.
        let large: Vec<u8> = (0..2 * SYNC_EVERY + 5).map(|i| (i % 251) as u8).collect();
        files.write("large.snap", &large).unwrap();
        assert_eq!(files.read("large.snap").unwrap(), large);
        files.keep_only(None).unwrap();
        assert_eq!(
            fs::read_dir(dir.path().join("snapshots")).unwrap().count(),
            0
        );
    }
}
