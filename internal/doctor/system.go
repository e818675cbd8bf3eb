package doctor

import (
	"context"
	"fmt"
	"io/fs"
	"net/http"
	"os"
	"os/user"
	"slices"
	"strconv"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/villedemercier/recpolicy/archive"
)

// defaultDaemonUser is "recpolicy" when that user exists (the package's),
// else whoever runs the doctor.
func defaultDaemonUser() string {
	if _, err := user.Lookup("recpolicy"); err == nil {
		return "recpolicy"
	}
	if u, err := user.Current(); err == nil {
		return u.Username
	}
	return ""
}

// principal is a user and its groups, to judge a folder's mode.
type principal struct {
	name   string
	uid    uint32
	groups []uint32
}

func lookupPrincipal(name string) (principal, error) {
	u, err := user.Lookup(name)
	if err != nil {
		return principal{}, err
	}
	uid, _ := strconv.ParseUint(u.Uid, 10, 32)
	p := principal{name: name, uid: uint32(uid)}
	gids, _ := u.GroupIds()
	if gid, err := strconv.ParseUint(u.Gid, 10, 32); err == nil {
		p.groups = append(p.groups, uint32(gid))
	}
	for _, g := range gids {
		if n, err := strconv.ParseUint(g, 10, 32); err == nil && !slices.Contains(p.groups, uint32(n)) {
			p.groups = append(p.groups, uint32(n))
		}
	}
	return p, nil
}

// may tells whether p has the permission bits want (of rwx: 4, 2, 1) on fi.
func (p principal) may(fi fs.FileInfo, want fs.FileMode) bool {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return false
	}
	if p.uid == 0 {
		return true
	}
	mode := fi.Mode().Perm()
	switch {
	case st.Uid == p.uid:
		return (mode>>6)&want == want
	case slices.Contains(p.groups, st.Gid):
		return (mode>>3)&want == want
	default:
		return mode&want == want
	}
}

func ownerName(fi fs.FileInfo) string {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return "?"
	}
	if u, err := user.LookupId(strconv.Itoa(int(st.Uid))); err == nil {
		return u.Username
	}
	return strconv.Itoa(int(st.Uid))
}

func groupName(fi fs.FileInfo) string {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return "?"
	}
	if g, err := user.LookupGroupId(strconv.Itoa(int(st.Gid))); err == nil {
		return g.Name
	}
	return strconv.Itoa(int(st.Gid))
}

// checkFolders checks the recording folder as Asterisk and as the daemon
// see it, and the archive's and the spool's free space.
func checkFolders(_ context.Context, r *Report, o Options) {
	rec := o.Config.Recording
	daemon, err := lookupPrincipal(o.DaemonUser)
	if err != nil {
		r.fail("daemon user", fmt.Sprintf("no user %s on this machine", o.DaemonUser), "install the package (it makes the recpolicy user), or name the daemon's user with --daemon-user", "")
		return
	}
	fi, err := os.Stat(rec.LocalDir)
	switch {
	case err != nil:
		r.fail("recording folder", fmt.Sprintf("%s: %v", rec.LocalDir, err), "create it, owned by the user Asterisk runs as (e.g. install -d -o asterisk -g asterisk -m 2770), or fix recording.local_dir", o.ConfigFile)
	case !fi.IsDir():
		r.fail("recording folder", rec.LocalDir+" is not a folder", "point recording.local_dir at the folder Asterisk records into", o.ConfigFile)
	default:
		problems := []string{}
		owner := ownerName(fi)
		writer := rec.SpoolOwner
		if writer == "" {
			writer = owner
		}
		if w, err := lookupPrincipal(writer); err != nil {
			problems = append(problems, fmt.Sprintf("recording.spool_owner %s is not a user here", writer))
		} else if !w.may(fi, 3) {
			problems = append(problems, fmt.Sprintf("%s (Asterisk) cannot write into it (%s:%s %o)", writer, owner, groupName(fi), fi.Mode().Perm()))
		}
		if rec.SpoolOwner != "" && owner != rec.SpoolOwner {
			problems = append(problems, fmt.Sprintf("it belongs to %s, not to %s (recording.spool_owner): files Asterisk makes there would be refused", owner, rec.SpoolOwner))
		}
		if !daemon.may(fi, 7) {
			problems = append(problems, fmt.Sprintf("the daemon's user %s cannot read and clear it (%s:%s %o)", daemon.name, owner, groupName(fi), fi.Mode().Perm()))
		}
		if len(problems) > 0 {
			r.fail("recording folder", rec.LocalDir+": "+joinSemi(problems),
				"make it owned by Asterisk's user, group-writable (2770), and put the daemon's user in that group (adduser recpolicy asterisk)", rec.LocalDir)
		} else {
			seen := rec.LocalDir
			if rec.AsteriskDir != rec.LocalDir {
				seen += " (Asterisk writes it as " + rec.AsteriskDir + ")"
			}
			r.ok("recording folder", fmt.Sprintf("%s, %s:%s %o: Asterisk writes, %s reads and clears", seen, owner, groupName(fi), fi.Mode().Perm(), daemon.name))
		}
	}
	for _, a := range []struct{ name, dir, key string }{{"archive", o.Config.Archive.Dir, "archive.dir"}, {"spool", o.Config.Archive.SpoolDir, "archive.spool_dir"}} {
		fi, err := os.Stat(a.dir)
		if err != nil || !fi.IsDir() {
			r.fail(a.name+" folder", fmt.Sprintf("%s: missing (%v)", a.dir, err), "create it (install -d -o recpolicy -g recpolicy -m 0750) or fix "+a.key, o.ConfigFile)
			continue
		}
		if !daemon.may(fi, 3) {
			r.fail(a.name+" folder", fmt.Sprintf("%s: the daemon's user %s cannot write it (%s:%s %o)", a.dir, daemon.name, ownerName(fi), groupName(fi), fi.Mode().Perm()),
				"chown recpolicy:recpolicy and chmod 0750", a.dir)
			continue
		}
		var st unix.Statfs_t
		if err := unix.Statfs(a.dir, &st); err != nil {
			r.warn(a.name+" space", err.Error(), "", "")
			continue
		}
		free := float64(st.Bavail) * float64(st.Bsize)
		share := float64(st.Bavail) / float64(st.Blocks)
		detail := fmt.Sprintf("%s: %.1f GiB free (%.0f %%)", a.dir, free/(1<<30), share*100)
		switch {
		case share < 0.03:
			r.fail(a.name+" space", detail+": recordings stop being filed when it is full", "give the file system room (the policy keeps recordings a year: size it for a year of calls)", a.dir)
		case share < 0.10:
			r.warn(a.name+" space", detail, "give the file system room before it fills", a.dir)
		default:
			r.ok(a.name+" space", detail)
		}
	}
}

func joinSemi(s []string) string {
	out := ""
	for i, x := range s {
		if i > 0 {
			out += "; "
		}
		out += x
	}
	return out
}

// checkDatabase connects as the daemon does and reports its login's role,
// the schema and the database's clock.
func checkDatabase(ctx context.Context, r *Report, o Options) {
	dsn, err := o.Config.Archive.DSN.Resolve()
	if err != nil {
		r.fail("database", err.Error(), "write the runtime login's address where archive.dsn names it", o.ConfigFile)
		return
	}
	st, err := archive.Connect(dsn)
	if err == nil {
		err = st.Ping(ctx)
	}
	if err != nil {
		r.fail("database", "cannot reach PostgreSQL with archive.dsn: "+err.Error(), "start PostgreSQL, or correct the address and password in archive.dsn's secret", o.ConfigFile)
		if st != nil {
			st.Close()
		}
		return
	}
	defer st.Close()
	rep, err := st.Roles(ctx)
	if err != nil {
		r.fail("database", err.Error(), "run recpolicy migrate --config "+o.ConfigFile+" (as the schema's owner)", o.ConfigFile)
		return
	}
	r.ok("database", fmt.Sprintf("connected as %s", rep.User))
	switch {
	case rep.Schema < rep.Latest:
		r.fail("database schema", fmt.Sprintf("version %d, this recpolicy needs %d", rep.Schema, rep.Latest), "recpolicy migrate --config "+o.ConfigFile+" (as root: it uses archive.migrate_dsn)", o.ConfigFile)
	case rep.Schema > rep.Latest:
		r.fail("database schema", fmt.Sprintf("version %d is newer than this recpolicy's %d", rep.Schema, rep.Latest), "install the recpolicy that migrated it", "")
	default:
		r.ok("database schema", fmt.Sprintf("version %d, current", rep.Schema))
	}
	role := "database role"
	switch {
	case rep.Superuser:
		r.fail(role, rep.User+" is a superuser: it could alter the access log and the destruction log, which must prove the past",
			"connect as a login of "+archive.RuntimeRole+" (README \"Database roles\": CREATE ROLE recpolicy_app LOGIN PASSWORD '…' IN ROLE "+archive.RuntimeRole+")", o.ConfigFile+" (archive.dsn)")
	case rep.OwnsLogs:
		r.fail(role, rep.User+" owns the tables: it could disable the logs' triggers", "keep the owner for migrations (archive.migrate_dsn) and connect the services as a login of "+archive.RuntimeRole, o.ConfigFile+" (archive.dsn)")
	case rep.MayAlter:
		r.fail(role, rep.User+" may UPDATE or DELETE access-log rows", "REVOKE UPDATE, DELETE ON access_log FROM "+rep.User+"; connect as a login of "+archive.RuntimeRole, o.ConfigFile+" (archive.dsn)")
	case !rep.Runtime:
		r.fail(role, rep.User+" is not a member of "+archive.RuntimeRole, "GRANT "+archive.RuntimeRole+" TO "+rep.User, "")
	default:
		r.ok(role, rep.User+" is a member of "+archive.RuntimeRole+": it may only add to the logs")
	}
	d := rep.DBTime.Sub(o.Now())
	if d < 0 {
		d = -d
	}
	if d > o.MaxSkew {
		r.fail("clock (PostgreSQL)", fmt.Sprintf("PostgreSQL's clock is %s from this machine's", d.Round(time.Millisecond)),
			"synchronise both machines with NTP (systemd-timesyncd or chrony): retention and the access log's times depend on it", "/etc/systemd/timesyncd.conf")
	} else {
		r.ok("clock (PostgreSQL)", fmt.Sprintf("within %s of this machine", d.Round(time.Millisecond)))
	}
}

// checkDaemon asks the daemon's /healthz, when it runs.
func checkDaemon(ctx context.Context, r *Report, o Options) {
	url := "http://" + o.Config.Listen + "/healthz"
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		r.warn("daemon", "not running ("+url+" does not answer)", "systemctl start recpolicy; journalctl -u recpolicy says why it stopped", "")
		return
	}
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		r.fail("daemon", fmt.Sprintf("running, but %s answers %d: a connection is down", url, res.StatusCode), "journalctl -u recpolicy names what is down", "")
		return
	}
	r.ok("daemon", "running, every connection up ("+url+")")
}
