package mysqlconn

import (
	"context"
	"database/sql/driver"
	"testing"

	"github.com/joinery/joinery/internal/testdb"
)

// BenchmarkRawRowsNext is the read loop's own cost per row, without a
// server: ten cells, bytes as the text protocol sends them and the
// values the binary protocol sends as Go numbers.
func BenchmarkRawRowsNext(b *testing.B) {
	row := []driver.Value{
		int64(123456), []byte("Zoë Example"), []byte("zoe@example.com"), uint64(42), float64(3.25),
		float32(0.5), []byte("2026-11-25 06:00:00"), nil, []byte("12345.67"), int64(-7),
	}
	r := newRows(&fakeRows{row: row, n: b.N}, nil)
	b.ReportAllocs()
	b.ResetTimer()
	for {
		ok, err := r.Next()
		if err != nil {
			b.Fatal(err)
		}
		if !ok {
			break
		}
	}
}

// BenchmarkRawRowsQuery reads 100,000 rows of six columns from the
// server through Open's pool, as a run's dataset does; it needs
// JOINERY_TEST_DSN.
func BenchmarkRawRowsQuery(b *testing.B) {
	db, err := Open(testdb.DSN(b), Options{MaxOpenConns: 2}, nil)
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	const query = "SELECT seq, CONCAT('user ', seq), seq * 1.5, CAST(seq AS DECIMAL(12,2)), " +
		"'2026-11-25 06:00:00' + INTERVAL seq SECOND, IF(seq % 7 = 0, NULL, 'x') FROM seq_1_to_100000"
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		conn, err := db.Conn(ctx)
		if err != nil {
			b.Fatal(err)
		}
		n := 0
		err = conn.Raw(func(dc any) error {
			rows, err := Query(ctx, dc, query, nil)
			if err != nil {
				return err
			}
			defer rows.Close()
			for {
				ok, err := rows.Next()
				if err != nil || !ok {
					return err
				}
				n++
			}
		})
		conn.Close()
		if err != nil || n != 100000 {
			b.Fatalf("%d rows, %v", n, err)
		}
	}
}
