package retention

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/villedemercier/recpolicy/archive"
	"github.com/villedemercier/recpolicy/internal/pgtest"
)

// testClasses are the city's retention classes.
var testClasses = Classes{
	"standard":   365 * 24 * time.Hour,
	"complaint":  1095 * 24 * time.Hour,
	"litigation": 3650 * 24 * time.Hour,
	"training":   365 * 24 * time.Hour,
}

const day = 24 * time.Hour

// retentionEnv is a migrated throwaway database and a temp archive.
type retentionEnv struct {
	t       testing.TB
	store   *Store
	archive string
	now     time.Time
	n       int
}

func newRetentionEnv(t testing.TB) *retentionEnv {
	t.Helper()
	s, err := archive.Connect(pgtest.DB(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	if _, err := s.Migrate(t.Context()); err != nil {
		t.Fatal(err)
	}
	return &retentionEnv{t: t, store: NewStore(s), archive: t.TempDir(), now: time.Now()}
}

// wav returns a small WAV file: 8 kHz mono 16-bit, with a LIST/INFO chunk
// naming a caller (what a training copy must drop).
func wav(seconds float64, seed int) []byte {
	n := int(seconds * 16000)
	var b []byte
	list := []byte("INFOICMT\x0c\x00\x00\x005145550100\x00\x00")
	fmtc := make([]byte, 16)
	binary.LittleEndian.PutUint16(fmtc[0:], 1)
	binary.LittleEndian.PutUint16(fmtc[2:], 1)
	binary.LittleEndian.PutUint32(fmtc[4:], 8000)
	binary.LittleEndian.PutUint32(fmtc[8:], 16000)
	binary.LittleEndian.PutUint16(fmtc[12:], 2)
	binary.LittleEndian.PutUint16(fmtc[14:], 16)
	b = append(b, "RIFF"...)
	b = binary.LittleEndian.AppendUint32(b, uint32(4+8+len(list)+8+16+8+n))
	b = append(b, "WAVE"...)
	b = append(b, "LIST"...)
	b = binary.LittleEndian.AppendUint32(b, uint32(len(list)))
	b = append(b, list...)
	b = append(b, "fmt "...)
	b = binary.LittleEndian.AppendUint32(b, 16)
	b = append(b, fmtc...)
	b = append(b, "data"...)
	b = binary.LittleEndian.AppendUint32(b, uint32(n))
	for i := 0; i < n; i++ {
		b = append(b, byte(i*seed))
	}
	return b
}

// rec files a recording of extension ext that ended age ago: a real file
// in the archive and its row, inserted directly.
func (e *retentionEnv) rec(ext, linkedid string, age time.Duration, class string) archive.StoredRecording {
	e.t.Helper()
	e.n++
	end := e.now.Add(-age).UTC().Truncate(time.Second)
	start := end.Add(-30 * time.Second)
	dir := filepath.Join(e.archive, start.Format("2006/01/02"))
	if err := os.MkdirAll(dir, 0o750); err != nil {
		e.t.Fatal(err)
	}
	p := filepath.Join(dir, fmt.Sprintf("%s-%s-%d.wav", start.Format("20060102-1504"), ext, e.n))
	data := wav(0.5, e.n)
	if err := os.WriteFile(p, data, 0o640); err != nil {
		e.t.Fatal(err)
	}
	sum := sha256.Sum256(data)
	r := archive.StoredRecording{Recording: archive.Recording{Path: p, SHA256: hex.EncodeToString(sum[:]), Size: int64(len(data)),
		Extension: ext, Start: start, End: end, LinkedID: linkedid, UniqueID: linkedid + ".r", RetentionClass: class}}
	err := e.store.db.QueryRow(`INSERT INTO recordings (path, sha256, size, duration, extension, start_time, end_time,
  uniqueid, linkedid, retention_class) VALUES ($1, $2, $3, 0.5, $4, $5, $6, $7, $8, $9) RETURNING id`,
		p, r.SHA256, r.Size, ext, start, end, r.UniqueID, linkedid, class).Scan(&r.ID)
	if err != nil {
		e.t.Fatal(err)
	}
	return r
}

// call inserts a call record between from and to that ended age ago.
func (e *retentionEnv) call(from, to, linkedid string, age time.Duration) int64 {
	e.t.Helper()
	e.n++
	end := e.now.Add(-age).UTC().Truncate(time.Second)
	var id int64
	err := e.store.db.QueryRow(`INSERT INTO calls (uniqueid, sequence, start_time, end_time, linkedid, source, source_flag,
  source_raw, destination, destination_flag, destination_raw, channel, destination_channel, duration, billable_seconds, disposition)
VALUES ($1, $2, $3, $4, $5, $6, 'ok', $6, $7, 'ok', $7, $8, $9, 60, 55, 'ANSWERED') RETURNING id`,
		linkedid+".c", e.n, end.Add(-time.Minute), end, linkedid, from, to,
		"PJSIP/carrier-0001", "PJSIP/"+to+"-0002").Scan(&id)
	if err != nil {
		e.t.Fatal(err)
	}
	return id
}

func (e *retentionEnv) exists(table string, id int64) bool {
	e.t.Helper()
	var n int
	if err := e.store.db.QueryRow(`SELECT count(*) FROM `+table+` WHERE id = $1`, id).Scan(&n); err != nil {
		e.t.Fatal(err)
	}
	return n == 1
}

func fileExists(p string) bool {
	_, err := os.Lstat(p)
	return err == nil
}

func (e *retentionEnv) purge(mod func(*PurgeOptions)) (*PurgeReport, error) {
	o := PurgeOptions{Classes: testClasses, ArchiveDir: e.archive, Actor: Actor{Name: "retention", Job: true}, MaxShare: 1, Now: e.now}
	if mod != nil {
		mod(&o)
	}
	return e.store.Purge(e.t.Context(), o)
}

var person = Actor{Name: "Lise Tremblay"}
