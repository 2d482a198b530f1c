package main

import (
	"bytes"
	"context"
	"flag"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/flinkfn/flinkfn/inference"
	"github.com/flinkfn/flinkfn/internal/testfix"
)

// --device, --gpu-memory-fraction and --max-batch-tokens: flags over
// FLINKFN_DEVICE / FLINKFN_GPU_MEMORY_FRACTION / FLINKFN_MAX_BATCH_TOKENS
// over the defaults, and into the models' options.
func TestDeviceSettings(t *testing.T) {
	c, err := loadWith(t, cmdPool, []string{"--device", "cuda:1", "--gpu-memory-fraction", "0.25", "--max-batch-tokens", "8192"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if c.Device != (inference.Device{CUDA: true, ID: 1}) || c.GPUMemoryFraction != 0.25 || c.MaxBatchTokens != 8192 {
		t.Errorf("pool flags: device %v fraction %v tokens %d", c.Device, c.GPUMemoryFraction, c.MaxBatchTokens)
	}
	mo := c.modelOptions(nil, nil)
	if mo.Device != c.Device || mo.GPUMemoryFraction != 0.25 || mo.Batcher.MaxBatchTokens != 8192 {
		t.Errorf("model options %+v", mo)
	}
	if s := shown(t, c, "device"); s.Value != "cuda:1" || s.Source != "flag --device" {
		t.Errorf("shown %+v", s)
	}

	// The worker (no flags) and serve read the environment.
	env := map[string]string{"FLINKFN_DEVICE": "cuda", "FLINKFN_GPU_MEMORY_FRACTION": "0.9", "FLINKFN_MAX_BATCH_TOKENS": "32768"}
	for _, cmd := range []string{cmdWorker, cmdServe, cmdEmbed} {
		var cf *configFlags
		if cmd != cmdWorker {
			fs := flag.NewFlagSet(cmd, flag.ContinueOnError)
			fs.SetOutput(io.Discard)
			cf = addConfigFlags(fs, cmd)
		}
		c, err := loadConfig(cmd, cf, func(k string) string { return env[k] })
		if err != nil {
			t.Fatalf("%s: %v", cmd, err)
		}
		if c.Device != (inference.Device{CUDA: true}) || c.GPUMemoryFraction != 0.9 || c.MaxBatchTokens != 32768 {
			t.Errorf("%s from env: device %v fraction %v tokens %d", cmd, c.Device, c.GPUMemoryFraction, c.MaxBatchTokens)
		}
	}

	// Defaults: the CPU, 0.4 of a GPU, the batcher's own token budget.
	c, err = loadWith(t, cmdServe, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if c.Device.CUDA || c.GPUMemoryFraction != 0.4 || c.MaxBatchTokens != 0 || gpuFraction(c) != 0 {
		t.Errorf("defaults: device %v fraction %v tokens %d", c.Device, c.GPUMemoryFraction, c.MaxBatchTokens)
	}
	// A fraction in the environment is no error on the CPU (one environment
	// for a fleet with and without GPUs); on the command line it is.
	if _, err := loadWith(t, cmdServe, nil, map[string]string{"FLINKFN_GPU_MEMORY_FRACTION": "0.5"}); err != nil {
		t.Errorf("fraction from env on the CPU: %v", err)
	}
}

func TestDeviceSettingErrors(t *testing.T) {
	for _, tc := range []struct {
		args []string
		env  map[string]string
		want []string
	}{
		{[]string{"--device", "gpu:0"}, nil, []string{`--device="gpu:0" (flag)`, "cuda:N", "nvidia-smi -L"}},
		{nil, map[string]string{"FLINKFN_DEVICE": "cuda:-1"}, []string{`FLINKFN_DEVICE="cuda:-1" (env)`, "cuda:N"}},
		{[]string{"--device", "cuda", "--gpu-memory-fraction", "0"}, nil, []string{"--gpu-memory-fraction", "0 < F <= 1"}},
		{[]string{"--device", "cuda", "--gpu-memory-fraction", "1.01"}, nil, []string{"0 < F <= 1"}},
		{[]string{"--device", "cuda", "--gpu-memory-fraction", "40%"}, nil, []string{"0 < F <= 1", "0.4"}},
		{[]string{"--gpu-memory-fraction", "0.5"}, nil, []string{"--gpu-memory-fraction applies to a GPU", "--device cuda:N", "device is cpu"}},
		{[]string{"--max-batch-tokens", "-1"}, nil, []string{"--max-batch-tokens"}},
	} {
		_, err := loadWith(t, cmdPool, tc.args, tc.env)
		if err == nil {
			t.Errorf("%v %v: no error", tc.args, tc.env)
			continue
		}
		for _, w := range tc.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%v %v: %q lacks %q", tc.args, tc.env, err, w)
			}
		}
	}
}

// flinkfn embed --device cuda:0 where there is no GPU build of ONNX
// Runtime, or only the CPU build: the error names the cause and the fix.
func TestEmbedOnCUDAWithoutTheGPUBuild(t *testing.T) {
	home := t.TempDir()
	cpuLib := filepath.Join(testfix.CacheDir(t), "lib", inference.RuntimeLibName)
	for _, tc := range []struct {
		env  map[string]string
		want []string
	}{
		// Nothing installed under FLINKFN_HOME/gpu/lib.
		{map[string]string{"FLINKFN_HOME": home}, []string{"device cuda:0", "GPU build", filepath.Join(home, "gpu", "lib", inference.RuntimeLibName), "make setup-gpu", "FLINKFN_ORT_LIB", "--device cpu"}},
		// FLINKFN_ORT_LIB names the CPU build make setup installs.
		{map[string]string{"FLINKFN_ORT_LIB": cpuLib}, []string{"device cuda:0", cpuLib, "not the GPU build", "make setup-gpu", inference.ProvidersCUDALibName}},
	} {
		var out, errb bytes.Buffer
		err := runEmbed(context.Background(), []string{"--device", "cuda:0"}, func(k string) string { return tc.env[k] }, strings.NewReader("x\n"), &out, &errb)
		if err == nil {
			t.Fatalf("%v: no error", tc.env)
		}
		for _, w := range tc.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%v: %q lacks %q", tc.env, err, w)
			}
		}
		if out.Len() != 0 {
			t.Errorf("wrote %q", out.String())
		}
	}
}

// The real binary with the libraries make setup-gpu installs, on a machine
// without a GPU: it exits 1 naming the driver, nvidia-smi and --device
// cpu. Needs FLINKFN_BIN (make test-gpu-errors) and .cache/gpu/lib.
func TestBinaryOnCUDAWithoutAGPU(t *testing.T) {
	bin := os.Getenv("FLINKFN_BIN")
	if bin == "" {
		t.Skip("FLINKFN_BIN is not set: run `make test-gpu-errors`")
	}
	if _, err := os.Stat(filepath.Join(testfix.CacheDir(t), "gpu", "lib", inference.ProvidersCUDALibName)); err != nil {
		t.Skipf("make setup-gpu has not run: %v", err)
	}
	if _, err := os.Stat("/dev/nvidiactl"); err == nil {
		t.Skip("this machine has an NVIDIA GPU: scripts/bench/gpu_check.sh tests it")
	}
	for _, args := range [][]string{{"embed", "--device", "cuda:0"}, {"serve", "--http", "127.0.0.1:0", "--device", "cuda:0"}} {
		cmd := exec.Command(bin, args...)
		cmd.Env = append(os.Environ(), "FLINKFN_HOME=", "FLINKFN_ORT_LIB=")
		cmd.Stdin = strings.NewReader("x\n")
		out, err := cmd.CombinedOutput()
		ee, ok := err.(*exec.ExitError)
		if !ok || ee.ExitCode() != 1 {
			t.Fatalf("%v: %v\n%s", args, err, out)
		}
		for _, w := range []string{"device cuda:0: no usable CUDA GPU", "nvidia-smi", "NVIDIA driver", "--device cpu"} {
			if !bytes.Contains(out, []byte(w)) {
				t.Errorf("%v: output lacks %q:\n%s", args, w, out)
			}
		}
	}
}
