//! Signing and verification micro-benchmarks. Figures and the Python comparison are in
//! BENCHMARKS.md; run with `cargo bench -p duo-proto --bench signing`.

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use duo_proto::date::parse_date;
use duo_proto::verify::{VerifyRequest, verify};
use duo_proto::{Digest, Params, SigVersion, SignRequest};

const SKEY: &[u8] = b"Zh5eGmUq9zpfQnyUIu5OL9iWoMMv5ZNmk3zLJ4Ep";
const DATE: &str = "Tue, 21 Aug 2012 17:29:18 -0000";

fn request<'a>(version: SigVersion, digest: Digest, params: &'a Params) -> SignRequest<'a> {
    SignRequest {
        version,
        digest,
        method: "GET",
        host: "api-xxxxxxxx.duosecurity.com",
        path: "/admin/v1/users",
        date: DATE,
        params,
        body: b"",
        x_duo_headers: &[],
    }
}

fn signing(c: &mut Criterion) {
    // The same parameters scripts/bench-python-sign.py signs with duo_client.client.sign.
    let params = Params::new().with("username", "alice").with("limit", "100");
    c.bench_function("sign_v2_sha512", |b| {
        b.iter(|| {
            black_box(request(SigVersion::V2, Digest::Sha512, &params))
                .authorization("DIWJ8X6AEYOR5OMC6TQ1", SKEY)
        })
    });
    c.bench_function("sign_v2_sha1", |b| {
        b.iter(|| {
            black_box(request(SigVersion::V2, Digest::Sha1, &params))
                .authorization("DIWJ8X6AEYOR5OMC6TQ1", SKEY)
        })
    });
    c.bench_function("sign_v5_get", |b| {
        b.iter(|| {
            black_box(request(SigVersion::V5, Digest::Sha512, &params))
                .authorization("DIWJ8X6AEYOR5OMC6TQ1", SKEY)
        })
    });
    let empty = Params::new();
    let body = br#"{"async":"1","device":"auto","factor":"push","username":"jsmith"}"#;
    c.bench_function("sign_v5_post_json", |b| {
        b.iter(|| {
            let mut r = request(SigVersion::V5, Digest::Sha512, &empty);
            r.method = "POST";
            r.body = body;
            black_box(r).authorization("DIWJ8X6AEYOR5OMC6TQ1", SKEY)
        })
    });

    let auth = request(SigVersion::V5, Digest::Sha512, &params)
        .authorization("DIWJ8X6AEYOR5OMC6TQ1", SKEY);
    let headers = [
        ("Date", DATE),
        ("Authorization", auth.as_str()),
        ("Host", "api-xxxxxxxx.duosecurity.com"),
    ];
    let now = parse_date(DATE).expect("valid date");
    c.bench_function("verify_v5_get", |b| {
        b.iter(|| {
            let req = VerifyRequest {
                method: "GET",
                path: "/admin/v1/users",
                configured_host: None,
                query: &params,
                form: None,
                body: b"",
                headers: &headers,
            };
            verify(black_box(&req), |_| Some(SKEY), now, 300).expect("verifies")
        })
    });
}

criterion_group!(benches, signing);
criterion_main!(benches);
