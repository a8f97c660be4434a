package metrics

import (
	"context"
	"fmt"
	"net/http"
	"net/url"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/push"
	dto "github.com/prometheus/client_model/go"
)

// WriteTextfile writes the metrics to path in the Prometheus text format,
// for node_exporter's textfile collector (joinery run --metrics-file):
// through a temporary file in path's folder, made readable by all (0644)
// and renamed over path, so that node_exporter never reads half a file.
// Its name must end in .prom for node_exporter to read it.
func (c *Collector) WriteTextfile(path string) error {
	if err := prometheus.WriteToTextfile(path, c.reg); err != nil {
		return fmt.Errorf("metrics file %s: %w", path, err)
	}
	return nil
}

// Push adds the metrics of each job in jobs to the Pushgateway at
// gateway (joinery run --pushgateway), one group per job: job="joinery"
// and job_name=<job>, the grouping key the Pushgateway puts on each of
// the group's series (the series themselves carry no job_name). It uses
// POST: a metric this push does not have (a run that failed has no
// joinery_dataset_rows) keeps the value an earlier push gave it. A user
// and password in gateway's URL are sent as basic auth, and never appear
// in an error.
func (c *Collector) Push(ctx context.Context, gateway string, jobs []string, client *http.Client) error {
	u, err := url.Parse(gateway)
	if err != nil {
		return fmt.Errorf("pushgateway: %w", err)
	}
	user := u.User
	u.User = nil
	families, err := c.reg.Gather()
	if err != nil {
		return fmt.Errorf("pushgateway %s: %w", u.Redacted(), err)
	}
	for _, job := range jobs {
		p := push.New(u.String(), "joinery").Grouping(jobLabel, job).Gatherer(ofJob(families, job))
		if client != nil {
			p = p.Client(client)
		}
		if user != nil {
			pw, _ := user.Password()
			p = p.BasicAuth(user.Username(), pw)
		}
		if err := p.AddContext(ctx); err != nil {
			return fmt.Errorf("pushgateway %s, job %s: %w", u.Redacted(), job, err)
		}
	}
	return nil
}

// ofJob returns a Gatherer of the series of families whose job_name is
// job, without that label, and of the series without one (build info).
func ofJob(families []*dto.MetricFamily, job string) prometheus.Gatherer {
	return prometheus.GathererFunc(func() ([]*dto.MetricFamily, error) {
		var out []*dto.MetricFamily
		for _, mf := range families {
			var ms []*dto.Metric
			for _, m := range mf.GetMetric() {
				labels, keep := m.GetLabel(), true
				for i, l := range labels {
					if l.GetName() != jobLabel {
						continue
					}
					keep = l.GetValue() == job
					if keep {
						m = &dto.Metric{Label: append(append([]*dto.LabelPair{}, labels[:i]...), labels[i+1:]...),
							Gauge: m.Gauge, Counter: m.Counter, Summary: m.Summary, Untyped: m.Untyped, Histogram: m.Histogram, TimestampMs: m.TimestampMs}
					}
					break
				}
				if keep {
					ms = append(ms, m)
				}
			}
			if len(ms) > 0 {
				out = append(out, &dto.MetricFamily{Name: mf.Name, Help: mf.Help, Type: mf.Type, Unit: mf.Unit, Metric: ms})
			}
		}
		return out, nil
	})
}
