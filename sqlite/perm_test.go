package sqlite_test

import (
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/tollgate/tollgate"
	"github.com/tollgate/tollgate/sqlite"
)

// TestOpen_CreatesDatabaseFilesPrivate: the database holds password hashes,
// so a new file and its WAL siblings are readable by their owner only,
// whatever the umask.
func TestOpen_CreatesDatabaseFilesPrivate(t *testing.T) {
	path := filepath.Join(t.TempDir(), "new.db")
	db, err := sqlite.Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	// A write makes sure the WAL is in use.
	u := &tollgate.User{Username: "alice", IsActive: true, CreatedAt: time.Unix(1_900_000_000, 0).UTC()}
	if err := db.CreateUser(context.Background(), u); err != nil {
		t.Fatal(err)
	}
	checked := 0
	for _, p := range []string{path, path + "-wal", path + "-shm"} {
		fi, err := os.Stat(p)
		if err != nil {
			if p != path && os.IsNotExist(err) {
				continue
			}
			t.Fatal(err)
		}
		checked++
		if got := fi.Mode().Perm(); got != 0o600 {
			t.Errorf("%s: mode %v, want 0600", filepath.Base(p), got)
		}
	}
	if checked < 2 {
		t.Errorf("only %d of the database files exist; the WAL siblings were not checked", checked)
	}
}

// TestOpen_KeepsTheModeOfAnExistingFile: an operator's choice (e.g. 0640
// for a backup group) is not overridden.
func TestOpen_KeepsTheModeOfAnExistingFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "existing.db")
	if err := os.WriteFile(path, nil, 0o640); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, 0o640); err != nil { // whatever the umask
		t.Fatal(err)
	}
	db, err := sqlite.Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	db.Close()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if got := fi.Mode().Perm(); got != fs.FileMode(0o640) {
		t.Errorf("mode %v, want the existing 0640", got)
	}
}
