// Renewal load generator for bench/renewal.ts: N clients, each renewing its own identity in
// a loop for a fixed time, every renewal on a new TLS 1.3 connection (no keep-alive, no
// session resumption), against tauth (POST /v1/certs/renew) or step-ca (POST /renew). The
// certificate each answer carries is the one the client presents next, as a bot does. The
// identities file is read at the start and written back with the newest certificates at the
// end, so the next round goes on from there. One JSON line of figures on stdout.
package main

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/http/httptrace"
	"os"
	"sort"
	"strings"
	"sync"
	"time"
)

type identity struct {
	Cert         string `json:"cert"`
	Key          string `json:"key"`
	TLSPublicKey string `json:"tls_public_key,omitempty"`
	SSHPublicKey string `json:"ssh_public_key,omitempty"`
}

type result struct {
	Mode       string  `json:"mode"`
	Clients    int     `json:"clients"`
	OK         int     `json:"ok"`
	Errors     int     `json:"errors"`
	Seconds    float64 `json:"seconds"`
	Rate       float64 `json:"rate"`
	P50        float64 `json:"p50_ms"`
	P90        float64 `json:"p90_ms"`
	P99        float64 `json:"p99_ms"`
	P999       float64 `json:"p999_ms"`
	Max        float64 `json:"max_ms"`
	FirstError string  `json:"first_error,omitempty"`
}

func fail(format string, a ...interface{}) {
	fmt.Fprintf(os.Stderr, "loadgen: "+format+"\n", a...)
	os.Exit(1)
}

func main() {
	mode := flag.String("mode", "tauth", "tauth or stepca")
	addr := flag.String("addr", "", "host:port (several, comma-separated: client i uses the i-th, round robin)")
	caFile := flag.String("ca", "", "PEM file of the server's root CA")
	idsFile := flag.String("ids", "", "JSON file of identities (read, then written back)")
	clients := flag.Int("clients", 1, "concurrent clients")
	duration := flag.Duration("duration", 5*time.Second, "how long to renew")
	serverName := flag.String("servername", "localhost", "TLS server name")
	flag.Parse()

	caPEM, err := os.ReadFile(*caFile)
	if err != nil {
		fail("%v", err)
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(caPEM) {
		fail("no certificate in %s", *caFile)
	}
	raw, err := os.ReadFile(*idsFile)
	if err != nil {
		fail("%v", err)
	}
	var ids []identity
	if err := json.Unmarshal(raw, &ids); err != nil {
		fail("%s: %v", *idsFile, err)
	}
	if len(ids) < *clients {
		fail("%d identities for %d clients", len(ids), *clients)
	}

	var mu sync.Mutex
	var latencies []float64
	errors := 0
	firstError := ""
	start := time.Now()
	deadline := start.Add(*duration)
	addrs := strings.Split(*addr, ",")
	var wg sync.WaitGroup
	for c := 0; c < *clients; c++ {
		wg.Add(1)
		go func(id *identity, addr string) {
			defer wg.Done()
			var mine []float64
			myErrors := 0
			myFirst := ""
			for time.Now().Before(deadline) {
				t0 := time.Now()
				next, err := renew(*mode, addr, *serverName, roots, id)
				if err != nil {
					myErrors++
					if myFirst == "" {
						myFirst = err.Error()
					}
					time.Sleep(10 * time.Millisecond)
					continue
				}
				mine = append(mine, float64(time.Since(t0).Microseconds())/1000)
				id.Cert = next
			}
			mu.Lock()
			latencies = append(latencies, mine...)
			errors += myErrors
			if firstError == "" {
				firstError = myFirst
			}
			mu.Unlock()
		}(&ids[c], addrs[c%len(addrs)])
	}
	wg.Wait()
	elapsed := time.Since(start).Seconds()
	sort.Float64s(latencies)
	pct := func(p float64) float64 {
		if len(latencies) == 0 {
			return 0
		}
		i := int(p/100*float64(len(latencies))+0.999999) - 1
		if i < 0 {
			i = 0
		}
		if i >= len(latencies) {
			i = len(latencies) - 1
		}
		return latencies[i]
	}
	out, _ := json.MarshalIndent(ids, "", " ")
	if err := os.WriteFile(*idsFile, out, 0o600); err != nil {
		fail("%v", err)
	}
	r := result{*mode, *clients, len(latencies), errors, elapsed, float64(len(latencies)) / elapsed, pct(50), pct(90), pct(99), pct(99.9), pct(100), firstError}
	line, _ := json.Marshal(r)
	fmt.Println(string(line))
	if os.Getenv("LOADGEN_PHASES") != "" {
		for _, p := range slowest {
			fmt.Fprintf(os.Stderr, "slow: total %.1f ms: connected %.1f, TLS done %.1f, request written %.1f, first byte %.1f\n", p.Total, p.Connected, p.Handshake, p.Wrote, p.FirstByte)
		}
	}
}

// phases of one renewal (ms from its start), kept for the slowest when LOADGEN_PHASES is set.
type phases struct {
	Total, Connected, Handshake, Wrote, FirstByte float64
}

var (
	slowMu  sync.Mutex
	slowest []phases
)

func notePhases(p phases) {
	slowMu.Lock()
	defer slowMu.Unlock()
	slowest = append(slowest, p)
	sort.Slice(slowest, func(i, j int) bool { return slowest[i].Total > slowest[j].Total })
	if len(slowest) > 8 {
		slowest = slowest[:8]
	}
}

// renew does one renewal on a new connection and returns the new certificate (PEM).
func renew(mode, addr, serverName string, roots *x509.CertPool, id *identity) (string, error) {
	var ph phases
	t0 := time.Now()
	since := func() float64 { return float64(time.Since(t0).Microseconds()) / 1000 }
	trace := &httptrace.ClientTrace{
		ConnectDone:          func(string, string, error) { ph.Connected = since() },
		TLSHandshakeDone:     func(tls.ConnectionState, error) { ph.Handshake = since() },
		WroteRequest:         func(httptrace.WroteRequestInfo) { ph.Wrote = since() },
		GotFirstResponseByte: func() { ph.FirstByte = since() },
	}
	defer func() {
		ph.Total = since()
		if os.Getenv("LOADGEN_PHASES") != "" {
			notePhases(ph)
		}
	}()
	pair, err := tls.X509KeyPair([]byte(id.Cert), []byte(id.Key))
	if err != nil {
		return "", err
	}
	tr := &http.Transport{
		TLSClientConfig: &tls.Config{
			RootCAs:      roots,
			Certificates: []tls.Certificate{pair},
			MinVersion:   tls.VersionTLS13,
			MaxVersion:   tls.VersionTLS13,
			ServerName:   serverName,
		},
		DisableKeepAlives: true,
	}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: 30 * time.Second}
	var req *http.Request
	if mode == "tauth" {
		body, _ := json.Marshal(map[string]interface{}{
			"public_keys": map[string]string{"tls_public_key": id.TLSPublicKey, "ssh_public_key": id.SSHPublicKey},
			"expires":     time.Now().Add(time.Hour).UTC().Format(time.RFC3339),
		})
		req, _ = http.NewRequest("POST", "https://"+addr+"/v1/certs/renew", bytes.NewReader(body))
		req.Header.Set("content-type", "application/json")
	} else {
		req, _ = http.NewRequest("POST", "https://"+addr+"/renew", nil)
	}
	req = req.WithContext(httptrace.WithClientTrace(req.Context(), trace))
	resp, err := client.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return "", err
	}
	if resp.StatusCode/100 != 2 {
		return "", fmt.Errorf("%s: %d %s", mode, resp.StatusCode, bytes.TrimSpace(data))
	}
	if mode == "tauth" {
		var r struct {
			Certificates struct {
				TLSCert string `json:"tls_cert"`
			} `json:"certificates"`
		}
		if err := json.Unmarshal(data, &r); err != nil || r.Certificates.TLSCert == "" {
			return "", fmt.Errorf("tauth: unexpected answer %.200s", data)
		}
		return r.Certificates.TLSCert, nil
	}
	var r struct {
		Crt string `json:"crt"`
	}
	if err := json.Unmarshal(data, &r); err != nil || r.Crt == "" {
		return "", fmt.Errorf("stepca: unexpected answer %.200s", data)
	}
	return r.Crt, nil
}
