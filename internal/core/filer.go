package core

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/rs/zerolog"

	"github.com/villedemercier/recpolicy/rules"
)

// Filed describes a recording filed in the archive.
type Filed struct {
	Recording *Recording
	Path      string
	SHA256    string
	Size      int64
	Duration  float64
	Repaired  bool
}

// Filer files complete recordings: it waits until Asterisk has closed a
// file, repairs its WAV header if a crash left it unfinished, discards files
// without audio, and moves the rest to
// <ArchiveDir>/YYYY/MM/DD/<rules file name>.wav (-2, -3… when the name is
// taken), in the city's time zone.
type Filer struct {
	spoolDir     string
	archiveDir   string
	closeTimeout time.Duration
	log          zerolog.Logger
	metrics      *Metrics
	onFiled      func(Filed)
	jobs         chan *Recording
	inflight     sync.Map // recording ID → struct{}: submitted, not yet handled
	wg           sync.WaitGroup
	pending      sync.WaitGroup
	poll         time.Duration
	watch        *CloseWatch // nil: judge by the file's looks alone
}

// NewFiler returns a filer; Run starts its workers. onFiled, when not nil,
// is called for each filed recording.
func NewFiler(spoolDir, archiveDir string, closeTimeout time.Duration, log zerolog.Logger, m *Metrics, onFiled func(Filed)) *Filer {
	return NewWatchedFiler(spoolDir, archiveDir, closeTimeout, log, m, onFiled, nil)
}

// NewWatchedFiler is NewFiler told by watch when Asterisk closes a file in
// the spool (the daemon's way; watch nil judges by the file's looks alone).
func NewWatchedFiler(spoolDir, archiveDir string, closeTimeout time.Duration, log zerolog.Logger, m *Metrics, onFiled func(Filed), watch *CloseWatch) *Filer {
	return &Filer{
		spoolDir:     spoolDir,
		archiveDir:   archiveDir,
		closeTimeout: closeTimeout,
		log:          log,
		metrics:      m,
		onFiled:      onFiled,
		jobs:         make(chan *Recording, 4096),
		poll:         50 * time.Millisecond,
		watch:        watch,
	}
}

// Submit queues a finished recording. It blocks only when 4096 are queued.
func (f *Filer) Submit(r *Recording) {
	if _, dup := f.inflight.LoadOrStore(r.ID, struct{}{}); dup {
		return
	}
	f.pending.Add(1)
	f.jobs <- r
}

// Run files recordings with n workers until ctx is cancelled, then finishes
// the queued ones (each waits at most closeTimeout) and returns.
func (f *Filer) Run(ctx context.Context, n int) {
	for i := 0; i < n; i++ {
		f.wg.Add(1)
		go func() {
			defer f.wg.Done()
			for {
				select {
				case r := <-f.jobs:
					f.file(r)
				case <-ctx.Done():
					for {
						select {
						case r := <-f.jobs:
							f.file(r)
						default:
							return
						}
					}
				}
			}
		}()
	}
	f.wg.Wait()
}

// Wait blocks until every submitted recording has been handled.
func (f *Filer) Wait() { f.pending.Wait() }

func (f *Filer) file(r *Recording) {
	defer f.pending.Done()
	defer f.inflight.Delete(r.ID)
	if f.watch != nil {
		defer f.watch.Forget(filepath.Base(r.LocalPath))
	}
	log := f.log.With().Str("linkedid", r.Linkedid).Str("channel", r.Channel).Str("extension", r.Extension).Str("recording", r.ID).Logger()
	closed := r.orphan || f.waitClosed(r.LocalPath)
	st, err := os.Stat(r.LocalPath)
	if errors.Is(err, os.ErrNotExist) {
		if f.silentlyEmpty(log, r, 0) {
			return
		}
		// MixMonitor opens the file on the first audio frame: a leg that
		// never answered leaves nothing.
		f.metrics.RecordingsEmpty.Inc()
		log.Info().Msg("no audio recorded (the leg never answered); nothing to file")
		return
	}
	if err != nil {
		f.fail(log, r, fmt.Errorf("stat recording: %w", err))
		return
	}
	if !closed {
		log.Warn().Str("file", r.LocalPath).Dur("waited", f.closeTimeout).
			Msg("Asterisk did not report the recording closed; filing it as it is")
	}
	info, err := ReadWAVInfo(r.LocalPath)
	if err != nil || info.DataBytes == 0 {
		if err == nil || st.Size() <= 44 {
			if !f.silentlyEmpty(log, r, 0) {
				f.metrics.RecordingsEmpty.Inc()
				log.Info().Str("file", r.LocalPath).Msg("recording holds no audio (the leg never talked); discarded")
			}
			os.Remove(r.LocalPath)
			return
		}
		f.fail(log, r, err)
		return
	}
	f.silentlyEmpty(log, r, info.Duration())
	repaired, err := RepairWAV(r.LocalPath)
	if err != nil {
		f.fail(log, r, err)
		return
	}
	if repaired {
		f.metrics.RecordingsRepaired.Inc()
		log.Warn().Str("file", r.LocalPath).Msg("WAV header did not match the file size; repaired")
	}
	dst, sum, size, err := f.move(r)
	if err != nil {
		f.fail(log, r, err)
		return
	}
	f.metrics.RecordingsFiled.Inc()
	log.Info().Str("file", dst).Str("sha256", sum).Float64("seconds", info.Duration()).
		Float64("bridged_seconds", r.Bridged.Seconds()).Str("direction", r.Direction).Msg("recording filed")
	if f.onFiled != nil {
		f.onFiled(Filed{Recording: r, Path: dst, SHA256: sum, Size: size, Duration: info.Duration(), Repaired: repaired})
	}
}

// A recording is short when it holds less than shortRatio of the time its
// channel talked, less shortSlack: Asterisk's MixMonitor option b and a
// snoop record only while the channel is bridged, so a whole recording
// matches its bridged time to a few frames.
const (
	shortRatio = 0.8
	shortSlack = time.Second
	// minBridged is the talk time below which an empty file is not judged
	// (a leg bridged for an instant as a transfer completes).
	minBridged = 500 * time.Millisecond
)

// silentlyEmpty raises a policy violation when a leg the tracker saw
// talking with another party holds no audio, or much less than it talked;
// it tells whether it did.
func (f *Filer) silentlyEmpty(log zerolog.Logger, r *Recording, seconds float64) bool {
	if r.orphan || r.Bridged < minBridged {
		return false
	}
	rec := time.Duration(seconds * float64(time.Second))
	want := time.Duration(float64(r.Bridged)*shortRatio) - shortSlack
	if seconds > 0 && rec >= want {
		return false
	}
	f.metrics.RecordingsShort.Inc()
	f.metrics.Violations.Inc()
	msg := "policy violation: the leg talked but its recording holds much less audio than it talked (started late, or Asterisk lost audio); check Asterisk's load and log"
	if seconds == 0 {
		msg = "policy violation: the leg talked but its recording holds no audio; check Asterisk's log (permissions, disk space) and recording.local_dir"
	}
	log.Error().Str("file", r.LocalPath).Float64("recorded_seconds", seconds).Float64("bridged_seconds", r.Bridged.Seconds()).
		Time("call_start", r.CallStart).Msg(msg)
	return true
}

func (f *Filer) fail(log zerolog.Logger, r *Recording, err error) {
	f.metrics.RecordingsFailed.Inc()
	log.Error().Err(err).Str("file", r.LocalPath).Msg("recording could not be filed; it stays in the spool")
}

// waitClosed waits until Asterisk has closed the recording. The sure sign
// is the kernel's (CloseWatch). Without it, or for a file closed before the
// watch began (a daemon restart), a header whose lengths match the file's
// size, unchanged over two looks, is a closed file, as Asterisk writes the
// lengths on close; a file holding only its header is never taken for
// closed by its looks, since Asterisk keeps the first frames in its stdio
// buffer until it flushes or closes. A file that never appears within
// noFileGrace (MixMonitor opens it on the first audio frame) means the leg
// carried no audio. It gives up after closeTimeout.
func (f *Filer) waitClosed(p string) bool {
	start := time.Now()
	deadline := start.Add(f.closeTimeout)
	name := filepath.Base(p)
	var lastSize int64 = -1
	for {
		if f.watch != nil && f.watch.Closed(name) {
			return true
		}
		st, err := os.Stat(p)
		switch {
		case errors.Is(err, os.ErrNotExist):
			if time.Since(start) > noFileGrace {
				return true
			}
		case err == nil:
			if info, err := ReadWAVInfo(p); err == nil && info.DataBytes > 0 && info.HeaderBytes == info.DataBytes && st.Size() == lastSize {
				return true
			}
			lastSize = st.Size()
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(f.poll)
	}
}

// noFileGrace is how long after hangup a recording file may still appear.
const noFileGrace = 2 * time.Second

// move files the recording under a free name and returns its path, sha256
// and size. It links when spool and archive share a file system, else copies
// (fsync'd) then removes the spool file.
func (f *Filer) move(r *Recording) (string, string, int64, error) {
	loc := time.UTC
	base := r.Extension
	if r.Rules != nil {
		loc = r.Rules.Location()
		base = r.Rules.FileName(r.CallStart, r.Extension)
	}
	t := r.CallStart.In(loc)
	dir := filepath.Join(f.archiveDir, t.Format("2006"), t.Format("01"), t.Format("02"))
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return "", "", 0, fmt.Errorf("file recording: %w", err)
	}
	sum, size, err := hashFile(r.LocalPath)
	if err != nil {
		return "", "", 0, fmt.Errorf("file recording: %w", err)
	}
	for n := 1; n < 10000; n++ {
		name := base
		if n > 1 {
			name += "-" + strconv.Itoa(n)
		}
		dst := filepath.Join(dir, name+".wav")
		err := os.Link(r.LocalPath, dst)
		if err == nil {
			if err := syncDir(dir); err != nil {
				return "", "", 0, err
			}
			os.Remove(r.LocalPath)
			return dst, sum, size, nil
		}
		if errors.Is(err, os.ErrExist) {
			continue
		}
		var le *os.LinkError
		if errors.As(err, &le) && (errors.Is(le.Err, syscall.EXDEV) || errors.Is(le.Err, syscall.EPERM)) {
			ok, err := copyExclusive(r.LocalPath, dst)
			if err != nil {
				return "", "", 0, err
			}
			if !ok {
				continue
			}
			os.Remove(r.LocalPath)
			return dst, sum, size, nil
		}
		return "", "", 0, fmt.Errorf("file recording: %w", err)
	}
	return "", "", 0, fmt.Errorf("file recording: no free name for %s in %s", base, dir)
}

// copyExclusive copies src to dst, claiming dst first; false when dst exists.
func copyExclusive(src, dst string) (bool, error) {
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o640)
	if errors.Is(err, os.ErrExist) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("file recording: %w", err)
	}
	in, err := os.Open(src)
	if err != nil {
		out.Close()
		os.Remove(dst)
		return false, fmt.Errorf("file recording: %w", err)
	}
	defer in.Close()
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		os.Remove(dst)
		return false, fmt.Errorf("file recording: copy: %w", err)
	}
	if err := out.Sync(); err != nil {
		out.Close()
		os.Remove(dst)
		return false, fmt.Errorf("file recording: sync: %w", err)
	}
	if err := out.Close(); err != nil {
		return false, fmt.Errorf("file recording: %w", err)
	}
	return true, syncDir(filepath.Dir(dst))
}

func hashFile(p string) (string, int64, error) {
	fh, err := os.Open(p)
	if err != nil {
		return "", 0, err
	}
	defer fh.Close()
	// Asterisk closed the file but did not sync it: make it durable before
	// it is linked into the archive.
	if err := fh.Sync(); err != nil {
		return "", 0, err
	}
	h := sha256.New()
	n, err := io.Copy(h, fh)
	if err != nil {
		return "", 0, err
	}
	return hex.EncodeToString(h.Sum(nil)), n, nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("sync %s: %w", dir, err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("sync %s: %w", dir, err)
	}
	return nil
}

// orphanAge is how long a spool file must have been left untouched before
// the filer takes it for a crash's leftover.
const orphanAge = 10 * time.Second

// Orphans files the recordings a crash left in the spool: files no running
// recording owns, untouched for orphanAge. Their names say what they are
// (see ParseSpoolID); a header a crash left at zero length is repaired. A
// file whose name recpolicy did not write is reported, never touched. It
// returns how many files it queued.
func (f *Filer) Orphans(running map[string]bool, r *rules.Rules) int {
	entries, err := os.ReadDir(f.spoolDir)
	if err != nil {
		f.log.Error().Err(err).Str("dir", f.spoolDir).Msg("scan spool for leftovers")
		return 0
	}
	n := 0
	for _, e := range entries {
		name := e.Name()
		if e.IsDir() || filepath.Ext(name) != ".wav" {
			continue
		}
		id := name[:len(name)-len(".wav")]
		if running[id] {
			continue
		}
		if _, busy := f.inflight.Load(id); busy {
			continue
		}
		fi, err := e.Info()
		if err != nil || time.Since(fi.ModTime()) < orphanAge {
			continue
		}
		info, err := ParseSpoolID(id)
		if err != nil {
			f.metrics.RecordingsFailed.Inc()
			f.log.Error().Err(err).Str("file", filepath.Join(f.spoolDir, name)).
				Msg("unknown file in the recording spool: left in place; move it away or file it by hand")
			continue
		}
		f.log.Warn().Str("file", filepath.Join(f.spoolDir, name)).Msg("recording left by a crash or restart; filing it")
		f.Submit(&Recording{ID: id, Extension: info.Extension, Direction: info.Direction, Uniqueid: info.Uniqueid, Linkedid: info.Linkedid,
			CallStart: info.CallStart, Rules: r, LocalPath: filepath.Join(f.spoolDir, name), orphan: true})
		n++
	}
	return n
}
