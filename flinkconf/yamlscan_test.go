package flinkconf

import "testing"

// What testdata/corpus cannot show against Flink: the paths where
// prepareYAML hands the text over unchanged.
func TestPrepareYAMLLeavesPlainConfigurationsAlone(t *testing.T) {
	in := "taskmanager:\n  memory:\n    process.size: 2g\npipeline.jars: [a.jar, b.jar]\n"
	out, restore, err := prepareYAML([]byte(in))
	if err != nil || restore != nil || string(out) != in {
		t.Errorf("prepareYAML changed a plain configuration: %q, %v, %v", out, restore != nil, err)
	}
}

// A text that already holds the private-use characters used to hide
// U+2028 and friends is handed over as it is (the Go library then reads
// U+2028 as a line break, as before).
func TestHideUnicodeBreaksFallsBackWhenPlaceholdersAreTaken(t *testing.T) {
	in := "a: x\u2028y\nb: \uF8F1\n"
	out, restore := hideUnicodeBreaks(in)
	if out != in || restore != nil {
		t.Errorf("hid breaks although the placeholder is in the text: %q", out)
	}
	out, restore = hideUnicodeBreaks("\uFEFFa: x\u2028y\u0085\n")
	if restore == nil || out != "\uFEFFa: x\uF8F1y\uF8F0\n" || restore.Replace(out) != "\uFEFFa: x\u2028y\u0085\n" {
		t.Errorf("hideUnicodeBreaks: %q", out)
	}
	cfg, err := ParseConfigYAML([]byte("a: x\u2028y\nb: [\"p\u2029q\"]\n"))
	if err != nil {
		t.Fatal(err)
	}
	if v, _ := cfg.Get("a"); v.Text != "x\u2028y" {
		t.Errorf("a = %q", v.Text)
	}
	if v, _ := cfg.Get("b"); v.Text != `["p\Pq"]` {
		t.Errorf("b = %q", v.Text)
	}
}
