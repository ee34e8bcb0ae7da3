package main

// bench-init DIR N: a root and an intermediate CA (ECDSA P-256), the intermediate's key
// encrypted with DIR/password, a ca.json with one JWK provisioner ("bench") and a badger
// database, and N client certificates (24 h, ECDSA P-256) carrying the provisioner
// extension, as `step ca certificate` would issue them, in DIR/ids.json for the load
// generator. Only the standard library and the packaged go.step.sm/crypto are used.

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"go.step.sm/crypto/pemutil"
)

var stepOIDProvisioner = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 37476, 9000, 64, 1}

type provisionerExtension struct {
	Type          int
	Name          []byte
	CredentialID  []byte
	KeyValuePairs []string `asn1:"optional,omitempty"`
}

func serial() *big.Int {
	n, _ := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 126))
	return n
}

func writePEM(path, typ string, der []byte) error {
	return os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600)
}

func benchInit(args []string) error {
	if len(args) != 2 {
		return fmt.Errorf("usage: bench-init DIR N")
	}
	dir := args[0]
	n, err := strconv.Atoi(args[1])
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	now := time.Now()
	rootKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	rootTpl := &x509.Certificate{
		SerialNumber: serial(), Subject: pkix.Name{CommonName: "Bench Root CA"},
		NotBefore: now.Add(-time.Minute), NotAfter: now.Add(10 * 365 * 24 * time.Hour),
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign, BasicConstraintsValid: true, IsCA: true, MaxPathLen: 1,
	}
	rootDER, err := x509.CreateCertificate(rand.Reader, rootTpl, rootTpl, &rootKey.PublicKey, rootKey)
	if err != nil {
		return err
	}
	root, _ := x509.ParseCertificate(rootDER)
	interKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	interTpl := &x509.Certificate{
		SerialNumber: serial(), Subject: pkix.Name{CommonName: "Bench Intermediate CA"},
		NotBefore: now.Add(-time.Minute), NotAfter: now.Add(10 * 365 * 24 * time.Hour),
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign, BasicConstraintsValid: true, IsCA: true, MaxPathLen: 0, MaxPathLenZero: true,
	}
	interDER, err := x509.CreateCertificate(rand.Reader, interTpl, root, &interKey.PublicKey, rootKey)
	if err != nil {
		return err
	}
	inter, _ := x509.ParseCertificate(interDER)
	password := []byte("bench-password")
	if err := os.WriteFile(filepath.Join(dir, "password"), password, 0o600); err != nil {
		return err
	}
	if err := writePEM(filepath.Join(dir, "root_ca.crt"), "CERTIFICATE", rootDER); err != nil {
		return err
	}
	if err := writePEM(filepath.Join(dir, "intermediate_ca.crt"), "CERTIFICATE", interDER); err != nil {
		return err
	}
	if _, err := pemutil.Serialize(interKey, pemutil.WithPassword(password), pemutil.ToFile(filepath.Join(dir, "intermediate_ca_key"), 0o600)); err != nil {
		return err
	}

	// The JWK provisioner: its public key only (nobody asks it for tokens here).
	provKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	b64 := func(b *big.Int) string { return base64.RawURLEncoding.EncodeToString(b.FillBytes(make([]byte, 32))) }
	jwk := map[string]string{"use": "sig", "kty": "EC", "kid": "bench-kid", "crv": "P-256", "alg": "ES256", "x": b64(provKey.X), "y": b64(provKey.Y)}
	addr := os.Getenv("STEPCA_ADDR")
	if addr == "" {
		addr = "127.0.0.1:9443"
	}
	cfg := map[string]interface{}{
		"root":            filepath.Join(dir, "root_ca.crt"),
		"federatedRoots":  nil,
		"crt":             filepath.Join(dir, "intermediate_ca.crt"),
		"key":             filepath.Join(dir, "intermediate_ca_key"),
		"address":         addr,
		"insecureAddress": "",
		"dnsNames":        []string{"localhost", "127.0.0.1"},
		"logger":          map[string]string{"format": "text"},
		"db":              map[string]string{"type": "badgerv2", "dataSource": filepath.Join(dir, "db")},
		"authority": map[string]interface{}{
			"provisioners": []interface{}{map[string]interface{}{"type": "JWK", "name": "bench", "key": jwk}},
		},
		"tls": map[string]interface{}{
			"cipherSuites":  []string{"TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256", "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256"},
			"minVersion":    1.2,
			"maxVersion":    1.3,
			"renegotiation": false,
		},
	}
	cfgJSON, _ := json.MarshalIndent(cfg, "", "  ")
	if err := os.WriteFile(filepath.Join(dir, "ca.json"), cfgJSON, 0o600); err != nil {
		return err
	}

	ext, err := asn1.Marshal(provisionerExtension{Type: 1, Name: []byte("bench"), CredentialID: []byte("bench-kid")})
	if err != nil {
		return err
	}
	type identity struct {
		Cert string `json:"cert"`
		Key  string `json:"key"`
	}
	ids := make([]identity, 0, n)
	for i := 0; i < n; i++ {
		key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		name := fmt.Sprintf("client-%d", i)
		tpl := &x509.Certificate{
			SerialNumber: serial(), Subject: pkix.Name{CommonName: name}, DNSNames: []string{name},
			NotBefore: now.Add(-time.Minute), NotAfter: now.Add(24 * time.Hour),
			KeyUsage:        x509.KeyUsageDigitalSignature,
			ExtKeyUsage:     []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
			ExtraExtensions: []pkix.Extension{{Id: stepOIDProvisioner, Value: ext}},
		}
		der, err := x509.CreateCertificate(rand.Reader, tpl, inter, &key.PublicKey, interKey)
		if err != nil {
			return err
		}
		keyDER, _ := x509.MarshalPKCS8PrivateKey(key)
		ids = append(ids, identity{
			Cert: string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})),
			Key:  string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER})),
		})
	}
	idsJSON, _ := json.MarshalIndent(ids, "", " ")
	return os.WriteFile(filepath.Join(dir, "ids.json"), idsJSON, 0o600)
}
