package inference

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"
)

// benchSeqs returns n token sequences of 24 to 36 ids ([CLS] ... [SEP]),
// the length of a typical short sentence.
func benchSeqs(n int) [][]int64 {
	r := rand.New(rand.NewPCG(1, 2))
	seqs := make([][]int64, n)
	for i := range seqs {
		s := []int64{101}
		for range 22 + r.IntN(13) {
			s = append(s, 1000+r.Int64N(28000))
		}
		seqs[i] = append(s, 102)
	}
	return seqs
}

// BenchmarkEngine embeds batches of ~30-token sequences and reports
// sequences per second, per variant and batch size.
func BenchmarkEngine(b *testing.B) {
	for _, variant := range []string{"fp32", "int8"} {
		b.Run(variant, func(b *testing.B) {
			e := testEngine(b, variant, EngineOptions{})
			for _, bs := range []int{1, 8, 32, 64, 128} {
				seqs := benchSeqs(bs)
				b.Run(fmt.Sprintf("batch=%d", bs), func(b *testing.B) {
					ctx := context.Background()
					for b.Loop() {
						if _, err := e.Run(ctx, seqs); err != nil {
							b.Fatal(err)
						}
					}
					b.ReportMetric(float64(b.N*bs)/b.Elapsed().Seconds(), "seqs/s")
				})
			}
		})
	}
}
