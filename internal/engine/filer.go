package engine

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
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/rs/zerolog"

	"github.com/villedemercier/recpolicy/internal/wav"
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
	finishWait   time.Duration // for a snoop recording's end time (preAnswer)
	log          zerolog.Logger
	metrics      *Metrics
	onFiled      func(Filed)
	jobs         chan *Recording
	inflight     sync.Map // recording ID → struct{}: submitted, not yet handled
	discarded    sync.Map // spool file name → struct{}: discarded, not yet removed
	wg           sync.WaitGroup
	pending      sync.WaitGroup
	poll         time.Duration
	watch        *CloseWatch // nil: judge by the file's looks alone
	uid, gid     int         // owner of archived files and folders; -1 keeps the daemon's
	spoolUID     int         // Asterisk's user, who owns spool files; -1: the spool folder's owner
	interleaved  bool        // the recorder writes two channels under a one-channel header (SetInterleaved)
}

// SetSpoolOwner says which uid Asterisk writes the spool's files as (-1,
// the default: the spool folder's owner). Call it before Run.
func (f *Filer) SetSpoolOwner(uid int) { f.spoolUID = uid }

// SetArchiveOwner makes archived recordings (0640) and their folders (0750)
// belong to uid and gid (-1 keeps the daemon's own). Call it before Run.
func (f *Filer) SetArchiveOwner(uid, gid int) { f.uid, f.gid = uid, gid }

// SetInterleaved tells the filer that the recorder writes each party on
// its own channel, interleaved under a one-channel header (MixMonitor's
// option D): the archived copy's header says two channels, and lengths
// are counted in stereo frames.
func (f *Filer) SetInterleaved(on bool) { f.interleaved = on }

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
		finishWait:   finishWait,
		log:          log,
		metrics:      m,
		onFiled:      onFiled,
		jobs:         make(chan *Recording, 4096),
		poll:         50 * time.Millisecond,
		watch:        watch,
		uid:          -1,
		gid:          -1,
		spoolUID:     -1,
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
	log := f.log.With().Str("linkedid", r.Linkedid).Str("channel", r.Channel).Str("extension", r.Extension).Str("recording", r.ID).Logger()
	if r.Discard != "" {
		f.discard(log, r)
		return
	}
	if len(r.Parts) > 0 {
		f.fileParts(log, r)
		return
	}
	if f.watch != nil {
		defer f.watch.Forget(filepath.Base(r.LocalPath))
	}
	closed := r.orphan || f.waitClosed(r.LocalPath)
	src, err := f.openSpooled(r.LocalPath)
	if errors.Is(err, os.ErrNotExist) {
		os.Remove(timesPath(r.LocalPath))
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
		f.fail(log, r, err)
		return
	}
	defer src.Close()
	if !closed {
		log.Warn().Str("file", r.LocalPath).Dur("waited", f.closeTimeout).
			Msg("Asterisk did not report the recording closed; filing it as it is")
	}
	st, err := src.Stat()
	if err != nil {
		f.fail(log, r, fmt.Errorf("stat recording: %w", err))
		return
	}
	info, err := readWAVInfo(src, r.LocalPath)
	if err == nil && f.interleaved && info.Channels == 1 {
		info.Channels = 2
	}
	// What was recorded before the answer is cut (preAnswer); the archived
	// copy of what is left then gets a header of its own.
	var cut int64
	cutRepaired := false
	if err == nil && info.DataBytes > 0 {
		if cut = f.preAnswer(log, r, r.LocalPath, info); cut > 0 {
			cutRepaired = info.HeaderBytes != info.DataBytes
			cutFrames(&info, cut)
		}
	}
	if err != nil || info.DataBytes == 0 {
		if err == nil || st.Size() <= 44 {
			if !f.silentlyEmpty(log, r, 0) {
				f.metrics.RecordingsEmpty.Inc()
				msg := "recording holds no audio (the leg never talked); discarded"
				if cut > 0 {
					msg = "no audio recorded after the answer (the leg never answered); nothing to file"
				}
				log.Info().Str("file", r.LocalPath).Msg(msg)
			}
			removeSpooled(r.LocalPath)
			return
		}
		f.fail(log, r, err)
		return
	}
	f.silentlyEmpty(log, r, info.Duration())
	dst, sum, size, repaired, err := f.archive(r, func(tmp *os.File) (bool, error) {
		if cut > 0 {
			return cutRepaired, copyAudio(tmp, src, info)
		}
		if _, err := io.Copy(tmp, io.NewSectionReader(src, 0, 1<<62)); err != nil {
			return false, fmt.Errorf("file recording: copy: %w", err)
		}
		repaired, err := repairWAV(tmp, r.LocalPath)
		if err != nil {
			return false, err
		}
		if f.interleaved {
			if _, err := markStereo(tmp, r.LocalPath); err != nil {
				return false, err
			}
		}
		return repaired, nil
	})
	if err != nil {
		f.fail(log, r, err)
		return
	}
	removeSpooled(r.LocalPath)
	f.filed(log, Filed{Recording: r, Path: dst, SHA256: sum, Size: size, Duration: info.Duration(), Repaired: repaired})
}

// copyAudio writes src's audio as info describes it (a cut of it: see
// cutFrames) into w, under a header of its own.
func copyAudio(w io.Writer, src io.ReaderAt, info WAVInfo) error {
	hdr, err := wav.Prefix(wav.PCMFmt(info.Channels, info.SampleRate, info.BitsPerSample), info.DataBytes)
	if err != nil {
		return fmt.Errorf("file recording: %w", err)
	}
	if _, err := w.Write(hdr); err != nil {
		return fmt.Errorf("file recording: write: %w", err)
	}
	if _, err := io.Copy(w, io.NewSectionReader(src, info.DataOffset, info.DataBytes)); err != nil {
		return fmt.Errorf("file recording: copy: %w", err)
	}
	return nil
}

// discard removes a recording that must not be filed (r.Discard) from the
// spool, each file once Asterisk has closed it, without reading it. A file
// that cannot be removed is remembered, so that the scan for leftovers
// never files it.
func (f *Filer) discard(log zerolog.Logger, r *Recording) {
	paths := r.Parts
	if len(paths) == 0 {
		paths = []string{r.LocalPath}
	}
	removed := 0
	for _, p := range paths {
		if f.watch != nil {
			defer f.watch.Forget(filepath.Base(p))
		}
		if !f.waitClosed(p) {
			log.Warn().Str("file", p).Dur("waited", f.closeTimeout).Msg("Asterisk did not report the discarded recording closed; removing it as it is")
		}
		// Its end time, waited for, is not written again once removed.
		f.readTimesWithEnd(p)
		os.Remove(timesPath(p))
		st, err := os.Lstat(p)
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err := os.Remove(p); err != nil {
			f.discarded.Store(filepath.Base(p), struct{}{})
			log.Error().Err(err).Str("file", p).Msg("remove discarded recording from the spool; remove it by hand, it must not be filed")
			continue
		}
		removed++
		var size int64
		if st != nil {
			size = st.Size()
		}
		log.Info().Str("file", p).Int64("bytes", size).Str("reason", r.Discard).Msg("recording discarded unfiled")
	}
	if removed > 0 {
		f.metrics.RecordingsPickedUp.Inc()
	}
}

// readTimesWithEnd reads the times of the spool file p (readTimes),
// waiting up to finishWait for its end time when its start time was
// written (the snoop backend's, see AnswerTimes): ARI reports it just after
// the file's close. Times removed before it would be written again, and
// left in the spool until the scan for leftovers removes them as stale
// (orphanAge).
func (f *Filer) readTimesWithEnd(p string) (recTimes, bool, error) {
	rt, ok, err := readTimes(p)
	for deadline := time.Now().Add(f.finishWait); err == nil && ok && !rt.started.IsZero() && rt.finished.IsZero() && time.Now().Before(deadline); {
		time.Sleep(20 * time.Millisecond)
		rt, ok, err = readTimes(p)
	}
	return rt, ok, err
}

// filed counts, logs and reports a recording filed.
func (f *Filer) filed(log zerolog.Logger, fd Filed) {
	if fd.Repaired {
		f.metrics.RecordingsRepaired.Inc()
		log.Warn().Str("file", fd.Path).Msg("WAV header did not match the file size; repaired in the archived copy")
	}
	f.metrics.RecordingsFiled.Inc()
	log.Info().Str("file", fd.Path).Str("sha256", fd.SHA256).Float64("seconds", fd.Duration).
		Float64("bridged_seconds", fd.Recording.Bridged.Seconds()).Str("direction", fd.Recording.Direction).Msg("recording filed")
	if f.onFiled != nil {
		f.onFiled(fd)
	}
}

// A recording is short when it holds less than shortRatio of the time its
// channel talked, less shortSlack: Asterisk's MixMonitor option b and a
// snoop record only while the channel is bridged, so a whole recording
// matches its bridged time to a few frames. Whatever the slack, one that
// holds less than nearlyEmpty of that time is short too: a call of a
// second whose recording caught a frame or two (an overloaded PBX stamps
// its bridge events late, so the talk time the tracker saw may itself be
// short of the call's).
const (
	shortRatio  = 0.8
	shortSlack  = time.Second
	nearlyEmpty = 0.1
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
	if seconds > 0 && rec >= want && float64(rec) >= float64(r.Bridged)*nearlyEmpty {
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

// errSpoolFile marks a spool entry the filer refuses to read: a symbolic
// link, not a regular file, or owned by someone other than the spool
// folder's owner (Asterisk). Asterisk can write the spool; the daemon must
// never read, repair or file through what it plants there.
var errSpoolFile = errors.New("refusing a spool file")

// openSpooled opens a recording in the spool for reading without following
// a symbolic link, and checks what it opened: a regular file with one name
// (not a hard link to another file), owned by Asterisk's user (the spool
// folder's owner, or SetSpoolOwner's uid).
func (f *Filer) openSpooled(p string) (*os.File, error) {
	fh, err := os.OpenFile(p, os.O_RDONLY|syscall.O_NOFOLLOW|syscall.O_NONBLOCK, 0)
	if errors.Is(err, syscall.ELOOP) {
		return nil, fmt.Errorf("open recording %s: %w: it is a symbolic link; left in place, remove it", p, errSpoolFile)
	}
	if err != nil {
		return nil, err
	}
	st, err := fh.Stat()
	if err != nil {
		fh.Close()
		return nil, fmt.Errorf("open recording %s: %w", p, err)
	}
	if !st.Mode().IsRegular() {
		fh.Close()
		return nil, fmt.Errorf("open recording %s: %w: not a regular file (%s); left in place, remove it", p, errSpoolFile, st.Mode().Type())
	}
	sys, ok := st.Sys().(*syscall.Stat_t)
	if !ok {
		fh.Close()
		return nil, fmt.Errorf("open recording %s: %w: no owner information", p, errSpoolFile)
	}
	if sys.Nlink != 1 {
		fh.Close()
		return nil, fmt.Errorf("open recording %s: %w: it has %d names (a hard link to another file?); left in place", p, errSpoolFile, sys.Nlink)
	}
	want := f.spoolUID
	if want < 0 {
		dir, err := os.Stat(filepath.Dir(p))
		if err != nil {
			fh.Close()
			return nil, fmt.Errorf("open recording %s: %w", p, err)
		}
		if dsys, ok := dir.Sys().(*syscall.Stat_t); ok {
			want = int(dsys.Uid)
		}
	}
	if int(sys.Uid) != want {
		fh.Close()
		return nil, fmt.Errorf("open recording %s: %w: owned by uid %d, not by Asterisk's user (uid %d, the spool folder's owner unless recording.spool_owner says otherwise); left in place", p, errSpoolFile, sys.Uid, want)
	}
	return fh, nil
}

// archive writes a recording (write fills the new file from the spool
// and tells whether it repaired what a crash left) under a free name in
// <ArchiveDir>/YYYY/MM/DD, into a new file the daemon owns (0640, owned as
// SetArchiveOwner says), fsync'd with its folder. The archived file shares
// nothing with the spool: Asterisk cannot alter it after filing. It returns
// the path, sha256 and size of the archived file, and whether it was
// repaired.
func (f *Filer) archive(r *Recording, write func(tmp *os.File) (bool, error)) (string, string, int64, bool, error) {
	loc := time.UTC
	base := r.Extension
	if r.Rules != nil {
		loc = r.Rules.Location()
		base = r.Rules.FileName(r.CallStart, r.Extension)
	}
	t := r.CallStart.In(loc)
	dir := filepath.Join(f.archiveDir, t.Format("2006"), t.Format("01"), t.Format("02"))
	if err := f.mkdirs(dir); err != nil {
		return "", "", 0, false, fmt.Errorf("file recording: %w", err)
	}
	tmp, err := os.CreateTemp(dir, ".filing-*.wav")
	if err != nil {
		return "", "", 0, false, fmt.Errorf("file recording: %w", err)
	}
	defer os.Remove(tmp.Name())
	defer tmp.Close()
	repaired, err := write(tmp)
	if err != nil {
		return "", "", 0, false, err
	}
	if err := tmp.Chmod(0o640); err != nil {
		return "", "", 0, false, fmt.Errorf("file recording: %w", err)
	}
	if f.uid >= 0 || f.gid >= 0 {
		if err := tmp.Chown(f.uid, f.gid); err != nil {
			return "", "", 0, false, fmt.Errorf("file recording: give it to uid %d gid %d: %w", f.uid, f.gid, err)
		}
	}
	if err := tmp.Sync(); err != nil {
		return "", "", 0, false, fmt.Errorf("file recording: sync: %w", err)
	}
	h := sha256.New()
	size, err := io.Copy(h, io.NewSectionReader(tmp, 0, 1<<62))
	if err != nil {
		return "", "", 0, false, fmt.Errorf("file recording: hash: %w", err)
	}
	sum := hex.EncodeToString(h.Sum(nil))
	for n := 1; n < 10000; n++ {
		name := base
		if n > 1 {
			name += "-" + strconv.Itoa(n)
		}
		dst := filepath.Join(dir, name+".wav")
		err := os.Link(tmp.Name(), dst) // claims the name, never replaces a file
		if errors.Is(err, os.ErrExist) {
			continue
		}
		if err != nil {
			return "", "", 0, false, fmt.Errorf("file recording: %w", err)
		}
		if err := os.Remove(tmp.Name()); err != nil {
			return "", "", 0, false, fmt.Errorf("file recording: %w", err)
		}
		if err := syncDir(dir); err != nil {
			return "", "", 0, false, err
		}
		return dst, sum, size, repaired, nil
	}
	return "", "", 0, false, fmt.Errorf("file recording: no free name for %s in %s", base, dir)
}

// mkdirs creates dir and its missing parents under the archive, each 0750,
// owned as SetArchiveOwner says, and fsync'd in its parent so that a crash
// cannot lose a folder holding filed recordings.
func (f *Filer) mkdirs(dir string) error {
	if st, err := os.Stat(dir); err == nil && st.IsDir() {
		return nil
	}
	parent := filepath.Dir(dir)
	if parent != dir {
		if err := f.mkdirs(parent); err != nil {
			return err
		}
	}
	if err := os.Mkdir(dir, 0o750); err != nil {
		if errors.Is(err, os.ErrExist) {
			return nil
		}
		return err
	}
	if err := os.Chmod(dir, 0o750); err != nil { // whatever the umask
		return err
	}
	if f.uid >= 0 || f.gid >= 0 {
		if err := os.Chown(dir, f.uid, f.gid); err != nil {
			return fmt.Errorf("give %s to uid %d gid %d: %w", dir, f.uid, f.gid, err)
		}
	}
	return syncDir(parent)
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
	// A recording made of one file per party is filed once, when none of
	// its files was touched lately.
	parted := map[string]SpoolInfo{}
	young := map[string]bool{}
	wavs := map[string]bool{}
	for _, e := range entries {
		wavs[e.Name()] = true
	}
	for _, e := range entries {
		name := e.Name()
		if !e.IsDir() && filepath.Ext(name) == timesExt && !wavs[strings.TrimSuffix(name, timesExt)+".wav"] {
			// The times of a file filed or discarded meanwhile, written
			// late: removed once old.
			if fi, err := e.Info(); err == nil && time.Since(fi.ModTime()) >= orphanAge {
				os.Remove(filepath.Join(f.spoolDir, name))
			}
			continue
		}
		if e.IsDir() || filepath.Ext(name) != ".wav" {
			continue
		}
		id := name[:len(name)-len(".wav")]
		base := id
		for _, s := range PartSuffixes {
			if b, ok := strings.CutSuffix(id, s); ok {
				base = b
			}
		}
		if running[base] {
			continue
		}
		if _, no := f.discarded.Load(name); no {
			if os.Remove(filepath.Join(f.spoolDir, name)) == nil {
				f.discarded.Delete(name)
			}
			continue
		}
		if _, busy := f.inflight.Load(base); busy {
			continue
		}
		fi, err := e.Info()
		if err != nil || time.Since(fi.ModTime()) < orphanAge {
			young[base] = true
			continue
		}
		info, err := ParseSpoolID(base)
		if err != nil {
			f.metrics.RecordingsFailed.Inc()
			f.log.Error().Err(err).Str("file", filepath.Join(f.spoolDir, name)).
				Msg("unknown file in the recording spool: left in place; move it away or file it by hand")
			continue
		}
		if base != id {
			parted[base] = info
			continue
		}
		f.log.Warn().Str("file", filepath.Join(f.spoolDir, name)).Msg("recording left by a crash or restart; filing it")
		f.Submit(&Recording{ID: id, Extension: info.Extension, Direction: info.Direction, Uniqueid: info.Uniqueid, Linkedid: info.Linkedid,
			CallStart: info.CallStart, Rules: r, LocalPath: filepath.Join(f.spoolDir, name), orphan: true})
		n++
	}
	for base, info := range parted {
		if young[base] {
			continue
		}
		rec := &Recording{ID: base, Extension: info.Extension, Direction: info.Direction, Uniqueid: info.Uniqueid, Linkedid: info.Linkedid,
			CallStart: info.CallStart, Rules: r, LocalPath: filepath.Join(f.spoolDir, base+".wav"), orphan: true}
		for _, s := range PartSuffixes {
			rec.Parts = append(rec.Parts, filepath.Join(f.spoolDir, base+s+".wav"))
		}
		f.log.Warn().Strs("files", rec.Parts).Msg("recording left by a crash or restart; filing it")
		f.Submit(rec)
		n++
	}
	return n
}
