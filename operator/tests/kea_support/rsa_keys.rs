//! Throw-away RSA keys for the client-certificate strength checks (ring cannot generate RSA keys,
//! nor load one shorter than 2048 bits). Generated once with openssl; they protect nothing.

/// PKCS#8 private key, RSA 2048 (`openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048`).
pub const RSA_2048: &str = "-----BEGIN PRIVATE KEY-----
MIIEvgIBADANBgkqhkiG9w0BAQEFAASCBKgwggSkAgEAAoIBAQDIZhwcRVRCcfB4
W4OseqkBzyPLP58dkoCeU6AhFXqVWHWA4ZQvmSRJPOhbhblEbeKsD4NOr9EOX/+F
Ltvc/LB2Tnm/35I2ryFHFZqrap+/09ivjOsY7myY72/eaEl5E/vBAnFsBHnL1F41
S1SpwXBhgVc1XWbGGwUQ63YfZwxw9zoNxPBBQLQei2XfCp7n3wodP5FFHaYqOHzi
ef4ONAV6j+B016pX/1sI5bCRkivHVN2qfZAIpKBqycUy8EPEZgQ1iXIExuNyvkNH
7OjIt53AXhisDqeXfSBhdNgcAZW/Fkz759zrrgUK7MrCnMZWcA+D9OybTyaijldU
NXN/3XdRAgMBAAECggEAJdlzUbuecHZIrtLKCdeY+CiBYDACA3naJQ0yX01JO8/b
UZ5JeLv56INCd5bIKS5/83Nyn3gBii+DeUoiaJipU47628yENyPYqy5faiTXS0nd
0TpSZQETLcd7X4xe5ClsEUY+2eH2hxLzQCmcMfvBGAlvyTp84MnVqR5vzvqNlQAn
Mgp5v+fyyqLRHUCbAcB5MTYQCKi6OIOiWSxaW1ezyQ3YJtba78J7A4pJP08dBAPF
Xtv3vobtlxQ20LC8kApQHlIyXD+CSCnBCIt3OV88CRMHPvrPsB+EbhEUlgWadrpf
KOueNXQiZwnRjtZwywa5rg1cX385vEin2SwFrF+lSQKBgQDp+2oiSiy/uY+cGLxN
rnTAt7p+Lejh3wOTtDFDBgEZlxDLSMeYuMA8faaeoc2Y7xRXAuIuzNuz5Mn/1qo5
59tzHNcLzVzB6NOMuW3QzuCNHvMiT/AqqMSdJTd16b8IJHYh8KzgJIapyNV/rDj8
8bGLO5TL2XlJeLs/AIhEvQLNEwKBgQDbQa5819AvvUMFizP2lsiovxZxODLYiUvu
v4n4i9En2bNsmdI8FwGtnt4Dt0Hwt4723IZaxUOQnPXDWzUYSAcG4x/VZJYhi6dD
+RSWPfTmhBGmxqEkZRQpxjKoKTKJDBGsJ5b/kYoNorZId80lz6NTf7LYuadYeo73
XRGYpOEqiwKBgQDeqEZGXSmaRR3ZIFzI23P1FKGeg1ey4YNI4ldifWs8i9oKaLav
qVgd+EA/gp/godpMNs1AVefYl6Z2FDQnKHFXaKFndMSJLmNp7ecHpmZfRI2AIGve
XH3FQO43Afms6O2VvK72GSwgk6I/fYc5hVI7ubYOCmR1uzMMcBg8uVTaCwKBgAs1
/Y0Gn++A9udWqc6HATWXp7ccT4VA5/AKPSzHQWePOxxndRd7eat9/w4jlayQRjAb
MId9pKnFTM+zXzChpjJU9LC9luuaL3BLUSEpg9cxk5F6gIzS2kgUiUyN5raZNmIe
GBtzPqLZ2gY0kfnH9yry0ZtBSuw8QAkn6hlq/NRnAoGBAIVNUTAuVKrPSH9Dkw5l
yf7hRNGxJMG8/Ujztxbe9i0PHhJwR8vC1awyMRHFMt7RRh9rcVBTm3yAlQSM5LVV
XPo8RKw6ePuYJijufrhue1f1X14LWkDlxgX2k721LimvAoTLWz9UVFATyR/9EqCp
LxUecE/wifXSDe8rlqOaSMzM
-----END PRIVATE KEY-----\n";

/// The DER `RSAPublicKey` of an RSA 1024 key (`openssl rsa -RSAPublicKey_out -outform DER | xxd -p`): only
/// the public half is needed to put it in a certificate signed by the test CA.
pub const RSA_1024_PUBLIC_HEX: &str = concat!(
    "30818902818100beb042a40f4aa9c0bc2a730c50db80ba191244a53be9f44db9bd9e9dc2665d6c1bda1f64c4300460b1",
    "24692f642ff7dfbd6e4377546c25e035147c1957689d3740edc5fa276ae7ef214d3343a68de400e22ad87e91c76ab536",
    "b81a0106af07cd730a26695d947bba5472e91ca795f62c70a9c4b4aba03961bab7d0857ae1f1c30203010001",
);

/// The RSA 1024 public key as rcgen's subject key.
pub struct Rsa1024Public(Vec<u8>);

impl Rsa1024Public {
    pub fn new() -> Self {
        let hex = RSA_1024_PUBLIC_HEX.as_bytes();
        let bytes = hex
            .chunks(2)
            .map(|pair| u8::from_str_radix(std::str::from_utf8(pair).unwrap(), 16).unwrap())
            .collect();
        Rsa1024Public(bytes)
    }
}

impl rcgen::PublicKeyData for Rsa1024Public {
    fn der_bytes(&self) -> &[u8] {
        &self.0
    }

    fn algorithm(&self) -> &'static rcgen::SignatureAlgorithm {
        &rcgen::PKCS_RSA_SHA256
    }
}
