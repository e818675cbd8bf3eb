// Package fulfil fulfils a granted written request: each recording it
// names is handed over by the access guard (which checks the request
// covers it and logs it before a byte is read), checked against its
// archived SHA-256, put in a signed and encrypted transmission package
// (internal/transmit), and the register keeps what left, to whom, how,
// when and the package's SHA-256. The CLI (`recpolicy requests package`)
// and the console fulfil requests through it alone.
package fulfil

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/villedemercier/recpolicy/archive/query"
	"github.com/villedemercier/recpolicy/archive/register"
	"github.com/villedemercier/recpolicy/internal/access"
	"github.com/villedemercier/recpolicy/internal/transmit"
)

// ErrRecording: a recording the request names could not be handed over
// (not found, not covered by the request, or its file altered); the error
// also wraps the cause.
var ErrRecording = errors.New("recording not handed over")

// ErrNoSigningKey: the configuration names no signing key.
var ErrNoSigningKey = errors.New("archive.signing_key is not set: make the city's key with recpolicy package keygen --out /etc/recpolicy/signing-key.pem, then name it in the config")

// Deps are what fulfilling needs: the guard of the person who makes the
// package, the register, the archive's folder and the city's signing key.
type Deps struct {
	Guard      *access.Guard
	Register   *register.Store
	ArchiveDir string
	Key        ed25519.PrivateKey
}

// Order is one fulfilment.
type Order struct {
	RequestID  int64
	To, Via    string    // who receives the package, and how it leaves
	DestroyBy  time.Time // the date by which the holder destroys the copies
	By         string    // who makes it (login)
	Passphrase string    // given to the recipient out of band
	Action     string    // the access log's action, e.g. "recpolicy requests package"
}

func (o Order) check() error {
	switch {
	case strings.TrimSpace(o.To) == "" || strings.TrimSpace(o.Via) == "":
		return errors.New("name who receives the package and how it leaves (the register keeps both)")
	case len([]rune(o.Passphrase)) < transmit.MinPassphrase:
		return fmt.Errorf("%w: choose a longer one (several words)", transmit.ErrWeakPassphrase)
	case o.DestroyBy.IsZero():
		return errors.New("no date by which the copies are destroyed")
	}
	return nil
}

// Fulfil makes request o.RequestID's package in the file create returns
// and registers it. On any failure the file is removed: what the register
// does not hold does not leave.
func Fulfil(ctx context.Context, d Deps, o Order, create func() (*os.File, error)) (register.Transmission, transmit.Result, error) {
	fail := func(err error) (register.Transmission, transmit.Result, error) {
		return register.Transmission{}, transmit.Result{}, fmt.Errorf("fulfil request %d: %w", o.RequestID, err)
	}
	if err := o.check(); err != nil {
		return fail(err)
	}
	if d.Key == nil {
		return fail(ErrNoSigningKey)
	}
	req, err := d.Register.GetRequest(ctx, o.RequestID)
	if err != nil {
		return fail(err)
	}
	if req.Status != register.RequestGranted {
		return fail(fmt.Errorf("the request is %s: only a granted request is fulfilled: %w", req.Status, register.ErrRequestState))
	}
	var sources []transmit.Source
	for _, rid := range req.Recordings {
		rec, err := d.Guard.Recording(ctx, o.Action, strconv.FormatInt(rid, 10), "", &o.RequestID, map[string]any{"to": o.To, "via": o.Via})
		if err == nil {
			err = query.Verify(d.ArchiveDir, rec)
		}
		if err != nil {
			return fail(fmt.Errorf("recording %d: %w: %w", rid, ErrRecording, err))
		}
		sources = append(sources, transmit.Source{
			Entry: transmit.FileEntry{Name: rec.Path, RecordingID: rec.ID, Extension: rec.Extension, Start: rec.Start, End: rec.End, Size: rec.Size, SHA256: rec.SHA256},
			Open:  func() (io.ReadCloser, error) { return query.Open(d.ArchiveDir, rec) },
		})
	}
	f, err := create()
	if err != nil {
		return fail(fmt.Errorf("create the package: %w", err))
	}
	m := transmit.Manifest{Request: transmit.Request{ID: req.ID, ReceivedOn: req.ReceivedOn.Format(time.DateOnly), Requester: req.Requester,
		Purpose: req.Purpose, Subject: req.Subject}, Recipient: o.To, Channel: o.Via, CreatedAt: time.Now().UTC().Truncate(time.Second),
		CreatedBy: o.By, DueOn: o.DestroyBy.Format(time.DateOnly)}
	res, err := transmit.Build(f, m, sources, d.Key, o.Passphrase)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(f.Name())
		return fail(err)
	}
	t, err := d.Register.AddTransmission(ctx, register.Transmission{RequestID: o.RequestID, Recipient: o.To, Channel: o.Via, Recordings: req.Recordings,
		PackageSHA256: res.SHA256, PackageSize: res.Size, ManifestSHA256: res.ManifestSHA256, KeySHA256: res.Manifest.KeyFinger,
		DestroyBy: o.DestroyBy, CreatedBy: o.By})
	if err != nil {
		os.Remove(f.Name())
		return fail(err)
	}
	return t, res, nil
}
