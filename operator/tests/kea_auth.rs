//! Basic authentication: credentials from the environment or a password file that is re-read when
//! a Secret is rotated, without a restart; 401 handling; no credential in any message.

mod kea_support;

use kea_operator::config::{AuthConfig, PasswordSource, Secret};
use kea_operator::kea::KeaError;
use kea_support::{client_with, config, ok};
use serde_json::json;
use wiremock::matchers::basic_auth;
use wiremock::{Mock, MockServer, ResponseTemplate};

async fn kea_accepting(password: &str) -> MockServer {
    let server = MockServer::start().await;
    mount_accepting(&server, password).await;
    server
}

/// Kea with basic auth for `operator` / `password`; anything else gets Kea's 401.
async fn mount_accepting(server: &MockServer, password: &str) {
    Mock::given(basic_auth("operator", password))
        .respond_with(ok(json!({"pid": 1, "uptime": 1, "reload": 1})))
        .mount(server)
        .await;
    // Anything else: Kea's 401.
    Mock::given(wiremock::matchers::method("POST"))
        .respond_with(
            ResponseTemplate::new(401)
                .insert_header("www-authenticate", "Basic realm=\"kea\"")
                .set_body_raw(r#"{ "result": 401, "text": "Unauthorized" }"#, "application/json"),
        )
        .with_priority(10)
        .mount(server)
        .await;
}

#[tokio::test]
async fn basic_auth_from_the_environment() {
    let server = kea_accepting("s3cret").await;
    let mut c = config(&server.uri());
    c.auth = AuthConfig::Basic {
        username: "operator".into(),
        password: PasswordSource::Inline(Secret::new("s3cret")),
    };
    client_with(&c).status_get().await.unwrap();

    c.auth = AuthConfig::Basic {
        username: "operator".into(),
        password: PasswordSource::Inline(Secret::new("wrong")),
    };
    let e = client_with(&c).status_get().await.unwrap_err();
    assert!(matches!(e, KeaError::Unauthorized), "{e:?}");
    assert_eq!((e.category(), e.requeue_class().as_str()), ("auth", "auth"));
    assert!(!format!("{e} {e:?}").contains("wrong"));
}

#[tokio::test]
async fn a_rotated_password_file_is_used_without_a_restart() {
    let server = kea_accepting("first").await;
    let dir = tempfile::tempdir().unwrap();
    // Kubernetes mounts a Secret key as a symlink into a timestamped directory and swaps the link.
    let data1 = dir.path().join("..2026_11_25_1");
    std::fs::create_dir(&data1).unwrap();
    std::fs::write(data1.join("password"), "first\n").unwrap();
    let link = dir.path().join("..data");
    std::os::unix::fs::symlink(&data1, &link).unwrap();
    let file = dir.path().join("password");
    std::os::unix::fs::symlink(link.join("password"), &file).unwrap();

    let mut c = config(&server.uri());
    c.auth = AuthConfig::Basic {
        username: "operator".into(),
        password: PasswordSource::File(file.clone()),
    };
    let kea = client_with(&c);
    kea.status_get().await.unwrap();

    // Kea's password changes first: we get 401 until the Secret follows.
    server.reset().await;
    mount_accepting(&server, "second").await;
    let e = kea.status_get().await.unwrap_err();
    assert!(matches!(e, KeaError::Unauthorized));

    // The Secret is updated the way the kubelet does it: a new directory, an atomic link swap.
    let data2 = dir.path().join("..2026_11_25_2");
    std::fs::create_dir(&data2).unwrap();
    std::fs::write(data2.join("password"), "second\n").unwrap();
    let tmp = dir.path().join("..data_tmp");
    std::os::unix::fs::symlink(&data2, &tmp).unwrap();
    std::fs::rename(&tmp, &link).unwrap();
    std::fs::remove_dir_all(&data1).unwrap();

    kea.status_get().await.unwrap();
    assert_eq!(server.received_requests().await.unwrap().len(), 2);
}

#[tokio::test]
async fn an_unreadable_password_file_is_a_config_error_naming_the_variable() {
    let server = kea_accepting("pw").await;
    let mut c = config(&server.uri());
    c.auth = AuthConfig::Basic {
        username: "operator".into(),
        password: PasswordSource::File("/nonexistent/kea-password".into()),
    };
    let e = client_with(&c).status_get().await.unwrap_err();
    assert!(
        matches!(
            e,
            KeaError::Config {
                variable: "KEA_BASIC_AUTH_PASSWORD_FILE",
                ..
            }
        ),
        "{e:?}"
    );
    assert!(
        server.received_requests().await.unwrap().is_empty(),
        "nothing sent without credentials"
    );
}
