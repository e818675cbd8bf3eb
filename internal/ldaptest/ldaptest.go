// Package ldaptest starts a real OpenLDAP slapd (Debian's package, which
// docker/sandbox installs) on a loopback port for a test, with the city's
// test directory: people under ou=people, groups under ou=groups. It is
// imported by tests only, and fails, never skips, when slapd is missing.
package ldaptest

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Base is the test directory's suffix.
const Base = "dc=mercier,dc=test"

// Admin and AdminPassword are the directory's root (and the console's
// search account in the tests).
const (
	Admin         = "cn=admin," + Base
	AdminPassword = "ldap-admin-secret"
)

// Person is a directory entry the test wants.
type Person struct {
	UID, Name, Password string
	Groups              []string // cn of groups under ou=groups
}

// Directory is a running slapd.
type Directory struct {
	URL string // ldap://127.0.0.1:PORT
}

// Start runs slapd with people and their groups until the test ends.
func Start(t testing.TB, people []Person) *Directory {
	t.Helper()
	slapd := "/usr/sbin/slapd"
	if _, err := os.Stat(slapd); err != nil {
		t.Fatalf("%s is missing: docker/sandbox up installs Debian's slapd (apt-get install slapd ldap-utils)", slapd)
	}
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "db"), 0o700)
	conf := filepath.Join(dir, "slapd.conf")
	err := os.WriteFile(conf, []byte(fmt.Sprintf(`include /etc/ldap/schema/core.schema
include /etc/ldap/schema/cosine.schema
include /etc/ldap/schema/inetorgperson.schema
include /etc/ldap/schema/nis.schema
modulepath /usr/lib/ldap
moduleload back_mdb
pidfile %[1]s/slapd.pid
database mdb
maxsize 10485760
suffix "%[2]s"
rootdn "%[3]s"
rootpw %[4]s
directory %[1]s/db
access to attrs=userPassword by anonymous auth by self write by * none
access to * by * read
`, dir, Base, Admin, AdminPassword)), 0o600)
	if err != nil {
		t.Fatal(err)
	}
	var ldif strings.Builder
	fmt.Fprintf(&ldif, "dn: %s\nobjectClass: dcObject\nobjectClass: organization\ndc: mercier\no: Ville de Mercier\n\n", Base)
	fmt.Fprintf(&ldif, "dn: ou=people,%s\nobjectClass: organizationalUnit\nou: people\n\n", Base)
	fmt.Fprintf(&ldif, "dn: ou=groups,%s\nobjectClass: organizationalUnit\nou: groups\n\n", Base)
	members := map[string][]string{}
	var groups []string
	for _, p := range people {
		fmt.Fprintf(&ldif, "dn: uid=%s,ou=people,%s\nobjectClass: inetOrgPerson\nuid: %s\ncn: %s\nsn: %s\nuserPassword: %s\n\n",
			p.UID, Base, p.UID, p.Name, p.Name, p.Password)
		for _, g := range p.Groups {
			if _, ok := members[g]; !ok {
				groups = append(groups, g)
			}
			members[g] = append(members[g], "uid="+p.UID+",ou=people,"+Base)
		}
	}
	for _, g := range groups {
		fmt.Fprintf(&ldif, "dn: cn=%s,ou=groups,%s\nobjectClass: groupOfNames\ncn: %s\n", g, Base, g)
		for _, m := range members[g] {
			fmt.Fprintf(&ldif, "member: %s\n", m)
		}
		ldif.WriteString("\n")
	}
	data := filepath.Join(dir, "data.ldif")
	os.WriteFile(data, []byte(ldif.String()), 0o600)
	if out, err := exec.Command("/usr/sbin/slapadd", "-f", conf, "-l", data).CombinedOutput(); err != nil {
		t.Fatalf("slapadd: %v: %s", err, out)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	logf, err := os.Create(filepath.Join(dir, "slapd.log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(slapd, "-f", conf, "-h", "ldap://"+addr+"/", "-d", "0")
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		t.Fatalf("start slapd: %v", err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
		logf.Close()
	})
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if c, err := net.Dial("tcp", addr); err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			b, _ := os.ReadFile(filepath.Join(dir, "slapd.log"))
			t.Fatalf("slapd did not listen on %s within 10 s: %s", addr, b)
		}
	}
	return &Directory{URL: "ldap://" + addr}
}
