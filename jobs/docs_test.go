package jobs

import (
	"os"
	"regexp"
	"strings"
	"testing"
)

// TestDocExamples parses every complete configuration the README,
// docs/DELIVERY.md, docs/OPERATIONS.md and docs/SCALE.md show (a yaml block whose first key is a top-level
// one: jobs, database, timezone, output_dir) as joinery validate does
// offline, with each ${VAR} it names set, so that an example that does
// not validate (a misspelt key, a template naming a missing field, a
// path with an unknown placeholder) fails here, not for its reader.
func TestDocExamples(t *testing.T) {
	top := regexp.MustCompile(`^(jobs|database|timezone|output_dir):`)
	vars := regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)\}`)
	for _, file := range []string{"../README.md", "../docs/DELIVERY.md", "../docs/OPERATIONS.md", "../docs/SCALE.md"} {
		data, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for i, block := range strings.Split(string(data), "```yaml\n")[1:] {
			block = block[:strings.Index(block, "```")]
			first := ""
			for _, l := range strings.Split(block, "\n") {
				if l != "" && !strings.HasPrefix(l, "#") {
					first = l
					break
				}
			}
			if !top.MatchString(first) {
				continue
			}
			n++
			for _, m := range vars.FindAllStringSubmatch(block, -1) {
				v := "value-of-" + m[1]
				if strings.HasSuffix(m[1], "_URL") {
					v = "https://hooks.example.com/services/T0/B0/x"
				}
				t.Setenv(m[1], v)
			}
			if _, err := Parse("/etc/joinery/config.yaml", []byte(block)); err != nil {
				t.Errorf("%s: yaml block %d does not validate:\n%s\n%v", file, i+1, block, err)
			}
		}
		if n == 0 {
			t.Errorf("%s: no complete configuration found", file)
		}
	}
}

// TestShippedConfigDeliverExample uncomments the deliver: example of the
// shipped config.yaml and validates the result.
func TestShippedConfigDeliverExample(t *testing.T) {
	data, err := os.ReadFile("../config.yaml")
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(string(data), "\n")
	found := false
	for i := 0; i < len(lines); i++ {
		if lines[i] != "    # deliver:" {
			continue
		}
		found = true
		for ; i < len(lines) && strings.HasPrefix(lines[i], "    # "); i++ {
			lines[i] = "    " + strings.TrimPrefix(lines[i], "    # ")
		}
		break
	}
	if !found {
		t.Fatal(`config.yaml has no "    # deliver:" example`)
	}
	t.Setenv("SMTP_PASSWORD", "x")
	t.Setenv("SLACK_WEBHOOK_URL", "https://hooks.example.com/services/T0/B0/x")
	cfg, err := Parse("config.yaml", []byte(strings.Join(lines, "\n")))
	if err != nil {
		t.Fatal(err)
	}
	j, err := cfg.Job("users-posts")
	if err != nil {
		t.Fatal(err)
	}
	if len(j.Deliver) != 3 {
		t.Errorf("deliver: %d destinations, want 3", len(j.Deliver))
	}
}
