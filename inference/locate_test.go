package inference

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func touch(t *testing.T, path string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, nil, 0o644); err != nil {
		t.Fatal(err)
	}
}

// fakeEnv is the Locations the command's configuration gives for these
// environment variables.
func fakeEnv(vars map[string]string) Locations {
	return Locations{ORTLib: vars[EnvORTLib], Home: vars[EnvHome], ModelDir: vars[EnvModelDir], Model: vars[EnvModel]}
}

// A fake file system layout with a library and a model in every place the
// lookup tries; each case names the places present and the environment.
func TestFindRuntimeLibrary(t *testing.T) {
	root := t.TempDir()
	explicit := filepath.Join(root, "explicit", "libort.so")
	home := filepath.Join(root, "home")
	exe := filepath.Join(root, "install", "bin", "flinkfn")
	sys1 := filepath.Join(root, "usr-local-lib-flinkfn")
	sys2 := filepath.Join(root, "usr-lib-flinkfn")
	places := map[string]string{
		"explicit": explicit,
		"home":     filepath.Join(home, "lib", RuntimeLibName),
		"exe":      filepath.Join(root, "install", "lib", RuntimeLibName),
		"sys1":     filepath.Join(sys1, RuntimeLibName),
		"sys2":     filepath.Join(sys2, RuntimeLibName),
	}
	for _, tc := range []struct {
		name    string
		present []string
		env     map[string]string
		exe     string
		want    string // a key of places, or "" for an error
		errHas  []string
	}{
		{"env wins", []string{"explicit", "home", "exe", "sys1"}, map[string]string{EnvORTLib: explicit, EnvHome: home}, exe, "explicit", nil},
		{"env set but missing: no fallback", []string{"home", "exe", "sys1"}, map[string]string{EnvORTLib: explicit, EnvHome: home}, exe, "", []string{EnvORTLib + "=" + explicit}},
		{"home before exe", []string{"home", "exe", "sys1"}, map[string]string{EnvHome: home}, exe, "home", nil},
		{"home without lib falls through to exe", []string{"exe", "sys1"}, map[string]string{EnvHome: home}, exe, "exe", nil},
		{"exe before system", []string{"exe", "sys1", "sys2"}, nil, exe, "exe", nil},
		{"no exe", []string{"exe", "sys2"}, nil, "", "sys2", nil},
		{"first system dir", []string{"sys1", "sys2"}, nil, exe, "sys1", nil},
		{"second system dir", []string{"sys2"}, nil, exe, "sys2", nil},
		{"nothing", nil, map[string]string{EnvHome: home}, exe, "", []string{
			EnvORTLib + " (not set)",
			places["home"] + " (does not exist)",
			places["exe"] + " (does not exist)",
			places["sys1"] + " (does not exist)",
			places["sys2"] + " (does not exist)",
			"run make setup",
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			os.RemoveAll(root)
			for _, p := range tc.present {
				touch(t, places[p])
			}
			got, err := findRuntimeLibrary(fakeEnv(tc.env), tc.exe, []string{sys1, sys2})
			if tc.want != "" {
				if err != nil || got != places[tc.want] {
					t.Fatalf("got %q, %v; want %s", got, err, places[tc.want])
				}
				return
			}
			if err == nil {
				t.Fatalf("got %q, want an error", got)
			}
			for _, s := range tc.errHas {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("error %q lacks %q", err, s)
				}
			}
		})
	}
	// A folder where the library should be is not a library.
	os.RemoveAll(root)
	if err := os.MkdirAll(places["sys1"], 0o755); err != nil {
		t.Fatal(err)
	}
	_, err := findRuntimeLibrary(fakeEnv(nil), "", []string{sys1})
	var nf *NotFoundError
	if !errors.As(err, &nf) || !strings.Contains(err.Error(), "not a regular file") || !strings.Contains(err.Error(), EnvHome+" (not set)") {
		t.Errorf("folder as library: %v", err)
	}
}

func TestFindModelDir(t *testing.T) {
	root := t.TempDir()
	flag := filepath.Join(root, "flag-model")
	envDir := filepath.Join(root, "env-model")
	home := filepath.Join(root, "home")
	exe := filepath.Join(root, "install", "bin", "flinkfn")
	sys1 := filepath.Join(root, "usr-local-share-flinkfn-models")
	sys2 := filepath.Join(root, "usr-share-flinkfn-models")
	place := func(key, name string) string {
		switch key {
		case "flag":
			return flag
		case "env":
			return envDir
		case "home":
			return filepath.Join(home, "models", name)
		case "exe":
			return filepath.Join(root, "install", "models", name)
		case "sys1":
			return filepath.Join(sys1, name)
		case "sys2":
			return filepath.Join(sys2, name)
		}
		panic(key)
	}
	def := DefaultModelName
	for _, tc := range []struct {
		name     string
		present  []string // keys, each holding model `model` (default name unless set)
		model    string
		explicit string
		env      map[string]string
		exe      string
		want     string
		errHas   []string
	}{
		{"flag wins", []string{"flag", "env", "home", "exe"}, "", flag, map[string]string{EnvModelDir: envDir, EnvHome: home}, exe, "flag", nil},
		{"flag missing: no fallback", []string{"env", "home", "exe"}, "", flag, map[string]string{EnvModelDir: envDir}, exe, "", []string{"model folder " + flag}},
		{"env dir next", []string{"env", "home", "exe"}, "", "", map[string]string{EnvModelDir: envDir, EnvHome: home}, exe, "env", nil},
		{"env dir missing: no fallback", []string{"home", "exe"}, "", "", map[string]string{EnvModelDir: envDir, EnvHome: home}, exe, "", []string{EnvModelDir + "=" + envDir}},
		{"home", []string{"home", "exe", "sys1"}, "", "", map[string]string{EnvHome: home}, exe, "home", nil},
		{"exe", []string{"exe", "sys1"}, "", "", map[string]string{EnvHome: home}, exe, "exe", nil},
		{"system", []string{"sys2"}, "", "", nil, exe, "sys2", nil},
		{"FLINKFN_MODEL picks the name", []string{"exe"}, "other-model", "", map[string]string{EnvModel: "other-model"}, exe, "exe", nil},
		{"FLINKFN_MODEL not installed", []string{"exe"}, "", "", map[string]string{EnvModel: "other-model"}, exe, "", []string{"model other-model not found", place("exe", "other-model") + " (does not exist)"}},
		{"FLINKFN_MODEL must be a name", nil, "", "", map[string]string{EnvModel: "../etc"}, exe, "", []string{EnvModel + `="../etc": not a model name`}},
		{"nothing", nil, "", "", nil, exe, "", []string{
			"model " + def + " not found; tried:",
			"model flag (not given)", EnvModelDir + " (not set)", EnvHome + " (not set)",
			place("exe", def) + " (does not exist)",
			place("sys1", def) + " (does not exist)",
			place("sys2", def) + " (does not exist)",
			"run make setup",
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			os.RemoveAll(root)
			name := def
			if tc.model != "" {
				name = tc.model
			}
			for _, p := range tc.present {
				touch(t, filepath.Join(place(p, name), ManifestFile))
			}
			got, err := findModelDir(tc.explicit, fakeEnv(tc.env), tc.exe, []string{sys1, sys2})
			if tc.want != "" {
				if err != nil || got != place(tc.want, name) {
					t.Fatalf("got %q, %v; want %s", got, err, place(tc.want, name))
				}
				return
			}
			if err == nil {
				t.Fatalf("got %q, want an error", got)
			}
			for _, s := range tc.errHas {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("error %q lacks %q", err, s)
				}
			}
		})
	}
	// A folder without manifest.json does not qualify.
	os.RemoveAll(root)
	if err := os.MkdirAll(place("exe", def), 0o755); err != nil {
		t.Fatal(err)
	}
	if _, err := findModelDir("", fakeEnv(nil), exe, nil); err == nil || !strings.Contains(err.Error(), "(no manifest.json)") {
		t.Errorf("folder without manifest: %v", err)
	}
}

// TestLocateFromCache checks the layout make setup produces: the binary in
// .cache/bin finds .cache/lib and .cache/models with no environment.
func TestLocateFromCache(t *testing.T) {
	cache := repoCacheDir(t)
	for _, p := range []string{filepath.Join("lib", RuntimeLibName), filepath.Join("models", DefaultModelName, ManifestFile)} {
		if _, err := os.Stat(filepath.Join(cache, p)); err != nil {
			t.Fatalf("%v: run make setup", err)
		}
	}
	exe := filepath.Join(cache, "bin", "flinkfn")
	lib, err := FindRuntimeLibrary(fakeEnv(nil), exe)
	if err != nil {
		t.Fatal(err)
	}
	if lib != filepath.Join(cache, "lib", RuntimeLibName) {
		t.Errorf("library %s", lib)
	}
	dir, err := FindModelDir("", fakeEnv(nil), exe)
	if err != nil {
		t.Fatal(err)
	}
	if dir != filepath.Join(cache, "models", DefaultModelName) {
		t.Errorf("model %s", dir)
	}
}
