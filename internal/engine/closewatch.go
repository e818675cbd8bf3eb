package engine

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// CloseWatch learns from the kernel when a process that wrote a file in
// the recording spool closes it (inotify IN_CLOSE_WRITE). Asterisk closes a
// recording's file once, when the recording ends: that is the one sure sign
// that a file is complete. A size or a header read from the outside can
// lie while Asterisk still holds data in its stdio buffer (a short
// recording may show only its 44-byte header until it is closed).
type CloseWatch struct {
	fd     int
	mu     sync.Mutex
	closed map[string]time.Time // file name → last close after writing
}

// NewCloseWatch watches dir (the spool as the daemon sees it; the same
// kernel sees Asterisk's writes, in a chroot or a container alike).
func NewCloseWatch(dir string) (*CloseWatch, error) {
	fd, err := unix.InotifyInit1(unix.IN_CLOEXEC | unix.IN_NONBLOCK)
	if err != nil {
		return nil, fmt.Errorf("watch recording spool %s: %w", dir, err)
	}
	if _, err := unix.InotifyAddWatch(fd, dir, unix.IN_CLOSE_WRITE); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("watch recording spool %s: %w", dir, err)
	}
	return &CloseWatch{fd: fd, closed: make(map[string]time.Time)}, nil
}

// Run reads the kernel's notifications until ctx is cancelled, then
// closes the watch.
func (w *CloseWatch) Run(ctx context.Context) error {
	defer unix.Close(w.fd)
	buf := make([]byte, 64*1024)
	fds := []unix.PollFd{{Fd: int32(w.fd), Events: unix.POLLIN}}
	for ctx.Err() == nil {
		if _, err := unix.Poll(fds, 200); err != nil && !errors.Is(err, unix.EINTR) {
			return fmt.Errorf("watch recording spool: %w", err)
		}
		n, err := unix.Read(w.fd, buf)
		if errors.Is(err, unix.EAGAIN) || errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			return fmt.Errorf("watch recording spool: %w", err)
		}
		w.parse(buf[:n], time.Now())
	}
	return nil
}

func (w *CloseWatch) parse(b []byte, at time.Time) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for len(b) >= unix.SizeofInotifyEvent {
		ev := (*unix.InotifyEvent)(unsafe.Pointer(&b[0]))
		end := unix.SizeofInotifyEvent + int(ev.Len)
		if end > len(b) {
			return
		}
		name := b[unix.SizeofInotifyEvent:end]
		for i, c := range name {
			if c == 0 {
				name = name[:i]
				break
			}
		}
		// The daemon's own times files (AnswerTimes) are not recordings.
		if ev.Mask&unix.IN_CLOSE_WRITE != 0 && len(name) > 0 && !bytes.HasSuffix(name, []byte(timesExt)) {
			w.closed[string(name)] = at
		}
		b = b[end:]
	}
	// Names nobody asked about (files of other tools) do not pile up.
	if len(w.closed) > 100000 {
		for k, t := range w.closed {
			if at.Sub(t) > time.Hour {
				delete(w.closed, k)
			}
		}
	}
}

// Closed tells whether the file called name was closed after writing.
func (w *CloseWatch) Closed(name string) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	_, ok := w.closed[name]
	return ok
}

// Forget drops what is known of name (once it is filed).
func (w *CloseWatch) Forget(name string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	delete(w.closed, name)
}
