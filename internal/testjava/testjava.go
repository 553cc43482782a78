// Package testjava runs small Java programs against the test broker with the Pulsar Java client
// of the broker installation, so that integration tests can check what Magnetar reads of messages
// that only other clients write (null values, empty keys). The programs are single source files
// (run with `java Prog.java`, Java 11 or newer); the jars are the lib/ directory of the Pulsar
// distribution scripts/pulsar.sh installs from Maven Central.
package testjava

import (
	"bufio"
	"bytes"
	"context"
	_ "embed"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
)

//go:embed Tombstone.java
var tombstoneSrc []byte

// Environment variables read here besides scripts/pulsar.sh's MAGNETAR_CACHE_DIR,
// MAGNETAR_PULSAR_VERSION and MAGNETAR_JAVA_HOME.
const (
	// EnvLib names a directory of Pulsar client jars to use instead of the installation's lib/.
	EnvLib = "MAGNETAR_PULSAR_LIB"
)

// Sent is one message a program sent.
type Sent struct {
	Key        string
	LedgerID   int64
	EntryID    int64
	BatchIndex int32 // -1 when the message is not in a batch
}

// Tombstones sends null-value messages (key(k).value(null), the Java client's tombstone) to
// topic with the topic's schema and returns them in the order sent. Each op is "single=K1,K2"
// (one unbatched message per key) or "batch=K1,K2" (one batch of all keys); keys may be empty.
func Tombstones(ctx context.Context, serviceURL, topic string, ops ...string) ([]Sent, error) {
	out, err := Run(ctx, "Tombstone.java", tombstoneSrc, append([]string{serviceURL, topic}, ops...)...)
	if err != nil {
		return nil, err
	}
	var sent []Sent
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		f := strings.Split(sc.Text(), "\t")
		if len(f) != 3 || f[0] != "sent" {
			continue // the client's log
		}
		id := strings.Split(f[2], ":")
		if len(id) != 3 {
			return nil, fmt.Errorf("testjava: bad message id in %q", sc.Text())
		}
		l, err1 := strconv.ParseInt(id[0], 10, 64)
		e, err2 := strconv.ParseInt(id[1], 10, 64)
		b, err3 := strconv.ParseInt(id[2], 10, 32)
		if err := errors.Join(err1, err2, err3); err != nil {
			return nil, fmt.Errorf("testjava: bad message id in %q: %w", sc.Text(), err)
		}
		sent = append(sent, Sent{Key: f[1], LedgerID: l, EntryID: e, BatchIndex: int32(b)})
	}
	return sent, nil
}

// Run writes the Java source src to a temporary file name and runs it with args, the Pulsar
// client jars on the class path; it returns the program's standard output.
func Run(ctx context.Context, name string, src []byte, args ...string) ([]byte, error) {
	lib, err := Lib(ctx)
	if err != nil {
		return nil, err
	}
	java, err := Java()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "magnetar-testjava-")
	if err != nil {
		return nil, fmt.Errorf("testjava: %w", err)
	}
	defer os.RemoveAll(dir)
	file := filepath.Join(dir, name)
	if err := os.WriteFile(file, src, 0o644); err != nil {
		return nil, fmt.Errorf("testjava: %w", err)
	}
	cmd := exec.CommandContext(ctx, java, append([]string{"-cp", filepath.Join(lib, "*"), file}, args...)...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("testjava: %s %s: %w\nstdout:\n%s\nstderr:\n%s", java, name, err, tail(stdout.Bytes()), tail(stderr.Bytes()))
	}
	return stdout.Bytes(), nil
}

func tail(b []byte) []byte {
	const n = 4000
	if len(b) > n {
		return b[len(b)-n:]
	}
	return b
}

var lib struct {
	sync.Mutex
	dir string
}

// Lib returns the directory of the Pulsar client jars: $MAGNETAR_PULSAR_LIB, else the lib/ of a
// Pulsar that scripts/pulsar.sh installed (<cache>/pulsar/<version>, cache $MAGNETAR_CACHE_DIR or
// ~/.cache/magnetar, version $MAGNETAR_PULSAR_VERSION or any). Without one (the broker was started
// elsewhere) it runs `scripts/pulsar.sh install`, which downloads and verifies the distribution.
func Lib(ctx context.Context) (string, error) {
	lib.Lock()
	defer lib.Unlock()
	if lib.dir != "" {
		return lib.dir, nil
	}
	if d := os.Getenv(EnvLib); d != "" {
		lib.dir = d
		return d, nil
	}
	d, err := installedLib()
	if err != nil {
		return "", err
	}
	if d == "" {
		script := filepath.Join(repoRoot(), "scripts", "pulsar.sh")
		cmd := exec.CommandContext(ctx, script, "install")
		if out, err := cmd.CombinedOutput(); err != nil {
			return "", fmt.Errorf("testjava: no Pulsar installation with client jars, and %s install failed: %w\n%s", script, err, tail(out))
		}
		if d, err = installedLib(); err != nil {
			return "", err
		}
		if d == "" {
			return "", fmt.Errorf("testjava: %s install left no Pulsar lib directory under %s", script, cacheRoot())
		}
	}
	lib.dir = d
	return d, nil
}

// installedLib finds the lib directory of a complete installation (scripts/pulsar.sh marks one
// with .magnetar-installed), or "".
func installedLib() (string, error) {
	root := filepath.Join(cacheRoot(), "pulsar")
	var dirs []string
	if v := os.Getenv("MAGNETAR_PULSAR_VERSION"); v != "" {
		dirs = []string{filepath.Join(root, v)}
	} else {
		var err error
		if dirs, err = filepath.Glob(filepath.Join(root, "*")); err != nil {
			return "", fmt.Errorf("testjava: %w", err)
		}
		sort.Sort(sort.Reverse(sort.StringSlice(dirs)))
	}
	for _, d := range dirs {
		if _, err := os.Stat(filepath.Join(d, ".magnetar-installed")); err != nil {
			continue
		}
		jars, _ := filepath.Glob(filepath.Join(d, "lib", "org.apache.pulsar-pulsar-client-original-*.jar"))
		if len(jars) > 0 {
			return filepath.Join(d, "lib"), nil
		}
	}
	return "", nil
}

func cacheRoot() string {
	if d := os.Getenv("MAGNETAR_CACHE_DIR"); d != "" {
		return d
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return ".cache/magnetar"
	}
	return filepath.Join(home, ".cache", "magnetar")
}

// repoRoot is the module root, two directories above this file.
func repoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..")
}

// Java returns the java binary: $MAGNETAR_JAVA_HOME/bin/java, $JAVA_HOME/bin/java, java on the
// PATH, else the last /usr/lib/jvm/*/bin/java. Source-file mode needs Java 11 or newer.
func Java() (string, error) {
	for _, env := range []string{"MAGNETAR_JAVA_HOME", "JAVA_HOME"} {
		if h := os.Getenv(env); h != "" {
			if p := filepath.Join(h, "bin", "java"); isExec(p) {
				return p, nil
			}
		}
	}
	if p, err := exec.LookPath("java"); err == nil {
		return p, nil
	}
	found, _ := filepath.Glob("/usr/lib/jvm/*/bin/java")
	sort.Strings(found)
	for i := len(found) - 1; i >= 0; i-- {
		if isExec(found[i]) {
			return found[i], nil
		}
	}
	return "", errors.New("testjava: no java found (set MAGNETAR_JAVA_HOME or JAVA_HOME, or put java on the PATH)")
}

func isExec(p string) bool {
	st, err := os.Stat(p)
	return err == nil && !st.IsDir() && st.Mode()&0o111 != 0
}
