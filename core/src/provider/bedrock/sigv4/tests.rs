//! AWS's published Signature Version 4 test suite (as aws-c-auth ships it: the
//! `header-*` files of `tests/aws-signing-test-suite/v4`), a Bedrock request
//! checked against botocore's signer, and the primitives underneath.

use super::*;

const CREDENTIALS: Credentials<'static> = Credentials {
    access_key_id: "AKIDEXAMPLE",
    secret_access_key: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
    session_token: None,
};
/// 2015-08-30T12:36:00Z, the suite's signing time.
const SUITE_TIME: AwsTime = AwsTime(1_440_938_160);
const EMPTY_HASH: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

/// One case of the suite: the request, and the canonical request, string to
/// sign and signature it must give.
struct Case<'a> {
    method: &'a str,
    path: &'a str,
    query: &'a str,
    headers: &'a [(&'a str, &'a str)],
    body: &'a [u8],
    token: Option<&'a str>,
    content_sha256_header: bool,
    canonical_request: String,
    string_to_sign_hash: &'a str,
    signature: &'a str,
}

impl Default for Case<'_> {
    fn default() -> Self {
        Self {
            method: "GET",
            path: "/",
            query: "",
            headers: &[],
            body: b"",
            token: None,
            content_sha256_header: false,
            canonical_request: String::new(),
            string_to_sign_hash: "",
            signature: "",
        }
    }
}

/// The canonical request of a suite case signing `host` and `x-amz-date` only.
fn vanilla(method: &str, path: &str, query: &str) -> String {
    format!(
        "{method}\n{path}\n{query}\nhost:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\nhost;x-amz-date\n{EMPTY_HASH}"
    )
}

fn check(case: Case<'_>) {
    let request = SignableRequest {
        method: case.method,
        host: "example.amazonaws.com",
        path: case.path,
        query: case.query,
        headers: case.headers,
        body: case.body,
        content_sha256_header: case.content_sha256_header,
    };
    let credentials = Credentials { session_token: case.token, ..CREDENTIALS };
    let signing = Signing::new(&request, &credentials, SUITE_TIME);
    assert_eq!(signing.canonical_request, case.canonical_request, "{}", case.path);

    let scope = "20150830/us-east-1/service/aws4_request";
    let string_to_sign = string_to_sign("20150830T123600Z", scope, &signing.canonical_request);
    assert_eq!(
        string_to_sign,
        format!("AWS4-HMAC-SHA256\n20150830T123600Z\n{scope}\n{}", case.string_to_sign_hash),
        "{}",
        case.path
    );

    let headers = sign(&request, &credentials, "us-east-1", "service", SUITE_TIME);
    let authorization = format!(
        "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/{scope}, SignedHeaders={}, Signature={}",
        signing.signed_headers, case.signature
    );
    assert_eq!(headers.last(), Some(&("authorization", authorization)), "{}", case.path);
    assert_eq!(headers[0], ("x-amz-date", "20150830T123600Z".to_owned()));
}

#[test]
fn get_vanilla() {
    check(Case {
        canonical_request: vanilla("GET", "/", ""),
        string_to_sign_hash: "bb579772317eb040ac9ed261061d46c1f17a8133879d6129b6e1c25292927e63",
        signature: "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31",
        ..Case::default()
    });
}

#[test]
fn get_vanilla_query_order_key_case() {
    check(Case {
        query: "Param2=value2&Param1=value1",
        canonical_request: vanilla("GET", "/", "Param1=value1&Param2=value2"),
        string_to_sign_hash: "816cd5b414d056048ba4f7c5386d6e0533120fb1fcfa93762cf0fc39e2cf19e0",
        signature: "b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500",
        ..Case::default()
    });
}

#[test]
fn get_vanilla_query_order_encoded() {
    check(Case {
        query: "Param-3=Value3&Param=Value2&%E1%88%B4=Value1",
        canonical_request: vanilla("GET", "/", "%E1%88%B4=Value1&Param=Value2&Param-3=Value3"),
        string_to_sign_hash: "868294f5c38bd141c4972a373a76654f1418a8e4fc18b2e7903ae45e8ae0ec71",
        signature: "371d3713e185cc334048618a97f809c9ffe339c62934c032af5a0e595648fcac",
        ..Case::default()
    });
}

#[test]
fn get_vanilla_utf8_query() {
    check(Case {
        query: "\u{1234}=bar",
        canonical_request: vanilla("GET", "/", "%E1%88%B4=bar"),
        string_to_sign_hash: "eb30c5bed55734080471a834cc727ae56beb50e5f39d1bff6d0d38cb192a7073",
        signature: "2cdec8eed098649ff3a119c94853b13c643bcf08f8b0a1d91e12c9027818dd04",
        ..Case::default()
    });
}

#[test]
fn get_vanilla_query_unreserved() {
    let unreserved = "-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    check(Case {
        query: &format!("{unreserved}={unreserved}"),
        canonical_request: vanilla("GET", "/", &format!("{unreserved}={unreserved}")),
        string_to_sign_hash: "c30d4703d9f799439be92736156d47ccfb2d879ddf56f5befa6d1d6aab979177",
        signature: "9c3e54bfcdf0b19771a7f523ee5669cdf59bc7cc0884027167c21bb143a40197",
        ..Case::default()
    });
}

#[test]
fn post_vanilla() {
    check(Case {
        method: "POST",
        canonical_request: vanilla("POST", "/", ""),
        string_to_sign_hash: "553f88c9e4d10fc9e109e2aeb65f030801b70c2f6468faca261d401ae622fc87",
        signature: "5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b",
        ..Case::default()
    });
}

#[test]
fn post_x_www_form_urlencoded() {
    let hash = "9095672bbd1f56dfc5b65f3e153adc8731a4a654192329106275f4c7b24d0b6e";
    check(Case {
        method: "POST",
        headers: &[("Content-Type", "application/x-www-form-urlencoded"), ("Content-Length", "13")],
        body: b"Param1=value1",
        content_sha256_header: true,
        canonical_request: format!(
            "POST\n/\n\ncontent-length:13\ncontent-type:application/x-www-form-urlencoded\n\
             host:example.amazonaws.com\nx-amz-content-sha256:{hash}\nx-amz-date:20150830T123600Z\n\n\
             content-length;content-type;host;x-amz-content-sha256;x-amz-date\n{hash}"
        ),
        string_to_sign_hash: "b1edd1d03544c25390e32085d55b57acc9a3961bb59415ff86c45c3d89d16cfb",
        signature: "d3875051da38690788ef43de4db0d8f280229d82040bfac253562e56c3f20e0b",
        ..Case::default()
    });
}

#[test]
fn get_utf8() {
    check(Case {
        path: "/\u{1234}",
        canonical_request: vanilla("GET", "/%E1%88%B4", ""),
        string_to_sign_hash: "2a0a97d02205e45ce2e994789806b19270cfbbb0921b278ccf58f5249ac42102",
        signature: "8318018e0b0f223aa2bbf98705b62bb787dc9c0e678f255a891fd03141be5d85",
        ..Case::default()
    });
}

#[test]
fn get_space() {
    check(Case {
        path: "/example space/",
        canonical_request: vanilla("GET", "/example%20space/", ""),
        string_to_sign_hash: "63ee75631ed7234ae61b5f736dfc7754cdccfedbff4b5128a915706ee9390d86",
        signature: "652487583200325589f1fba4c7e578f72c47cb61beeca81406b39ddec1366741",
        ..Case::default()
    });
}

#[test]
fn get_unreserved() {
    let path = "/-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    check(Case {
        path,
        canonical_request: vanilla("GET", path, ""),
        string_to_sign_hash: "6a968768eefaa713e2a6b16b589a8ea192661f098f37349f4e2c0082757446f9",
        signature: "07ef7494c76fa4850883e2b006601f940f8a34d404d0cfa977f52a65bbf5f24f",
        ..Case::default()
    });
}

#[test]
fn normalized_paths() {
    let root = (
        "bb579772317eb040ac9ed261061d46c1f17a8133879d6129b6e1c25292927e63",
        "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31",
    );
    for path in ["/example/..", "/example1/example2/../..", "/./", "//"] {
        check(Case {
            path,
            canonical_request: vanilla("GET", "/", ""),
            string_to_sign_hash: root.0,
            signature: root.1,
            ..Case::default()
        });
    }
    check(Case {
        path: "//example//",
        canonical_request: vanilla("GET", "/example/", ""),
        string_to_sign_hash: "cb96b4ac96d501f7c5c15bc6d67b3035061cfced4af6585ad927f7e6c985c015",
        signature: "9a624bd73a37c9a373b5312afbebe7a714a789de108f0bdfe846570885f57e84",
        ..Case::default()
    });
    check(Case {
        path: "/./example",
        canonical_request: vanilla("GET", "/example", ""),
        signature: "ef75d96142cf21edca26f06005da7988e4f8dc83a165a80865db7089db637ec5",
        string_to_sign_hash: &hex(&Sha256::digest(vanilla("GET", "/example", "").as_bytes())),
        ..Case::default()
    });
}

#[test]
fn header_values_are_trimmed_folded_and_joined() {
    check(Case {
        headers: &[("My-Header1", "value2"), ("My-Header1", "value2"), ("My-Header1", "value1")],
        canonical_request: format!(
            "GET\n/\n\nhost:example.amazonaws.com\nmy-header1:value2,value2,value1\nx-amz-date:20150830T123600Z\n\n\
             host;my-header1;x-amz-date\n{EMPTY_HASH}"
        ),
        string_to_sign_hash: &hex(&Sha256::digest(
            format!(
                "GET\n/\n\nhost:example.amazonaws.com\nmy-header1:value2,value2,value1\n\
                 x-amz-date:20150830T123600Z\n\nhost;my-header1;x-amz-date\n{EMPTY_HASH}"
            )
            .as_bytes(),
        )),
        signature: "c9d5ea9f3f72853aea855b47ea873832890dbdd183b4468f858259531a5138ea",
        ..Case::default()
    });
    check(Case {
        headers: &[("My-Header1", " value1"), ("My-Header2", " \"a   b   c\"")],
        canonical_request: format!(
            "GET\n/\n\nhost:example.amazonaws.com\nmy-header1:value1\nmy-header2:\"a b c\"\n\
             x-amz-date:20150830T123600Z\n\nhost;my-header1;my-header2;x-amz-date\n{EMPTY_HASH}"
        ),
        string_to_sign_hash: "a726db9b0df21c14f559d0a978e563112acb1b9e05476f0a6a1c7d68f28605c7",
        signature: "acc3ed3afb60bb290fc8d2dd0098b9911fcaa05412b367055dee359757a9c736",
        ..Case::default()
    });
    check(Case {
        headers: &[("My-Header1", "value1\n  value2\n     value3")],
        canonical_request: format!(
            "GET\n/\n\nhost:example.amazonaws.com\nmy-header1:value1 value2 value3\n\
             x-amz-date:20150830T123600Z\n\nhost;my-header1;x-amz-date\n{EMPTY_HASH}"
        ),
        string_to_sign_hash: &hex(&Sha256::digest(
            format!(
                "GET\n/\n\nhost:example.amazonaws.com\nmy-header1:value1 value2 value3\n\
                 x-amz-date:20150830T123600Z\n\nhost;my-header1;x-amz-date\n{EMPTY_HASH}"
            )
            .as_bytes(),
        )),
        signature: "cfd34249e4b1c8d6b91ef74165d41a32e5fab3306300901bb65a51a73575eefd",
        ..Case::default()
    });
}

#[test]
fn get_vanilla_with_session_token() {
    let token = "6e86291e8372ff2a2260956d9b8aae1d763fbf315fa00fa31553b73ebf194267";
    check(Case {
        token: Some(token),
        canonical_request: format!(
            "GET\n/\n\nhost:example.amazonaws.com\nx-amz-date:20150830T123600Z\nx-amz-security-token:{token}\n\n\
             host;x-amz-date;x-amz-security-token\n{EMPTY_HASH}"
        ),
        string_to_sign_hash: "067b36aa60031588cea4a4cde1f21215227a047690c72247f1d70b32fbbfad2b",
        signature: "07ec1639c89043aa0e3e2de82b96708f198cceab042d4a97044c66dd9f74e7f8",
        ..Case::default()
    });
}

#[test]
fn post_sts_header_before() {
    let token = "AQoDYXdzEPT//////////wEXAMPLEtc764bNrC9SAPBSM22wDOk4x4HIZ8j4FZTwdQWLWsKWHGBuFqwAeMicRXmxfpSPfIeoIYRqTflfKD8YUuwthAx7mSEI/qkPpKPi/kMcGdQrmGdeehM4IC1NtBmUpp2wUE8phUZampKsburEDy0KPkyQDYwT7WZ0wq5VSXDvp75YU9HFvlRd8Tx6q6fE8YQcHNVXAkiY9q6d+xo0rKwT38xVqr7ZD0u0iPPkUL64lIZbqBAz+scqKmlzm8FDrypNC9Yjc8fPOLn9FX9KSYvKTr4rvx3iSIlTJabIQwj2ICCR/oLxBA==";
    check(Case {
        method: "POST",
        token: Some(token),
        canonical_request: format!(
            "POST\n/\n\nhost:example.amazonaws.com\nx-amz-date:20150830T123600Z\nx-amz-security-token:{token}\n\n\
             host;x-amz-date;x-amz-security-token\n{EMPTY_HASH}"
        ),
        string_to_sign_hash: "c237e1b440d4c63c32ca95b5b99481081cb7b13c7e40434868e71567c1a882f6",
        signature: "85d96828115b5dc0cfc3bd16ad9e210dd772bbebba041836c64533a82be05ead",
        ..Case::default()
    });
}

#[test]
fn a_bedrock_request_signs_as_botocore_signs_it() {
    // botocore 1.44's SigV4Auth, service `bedrock`, on this request at
    // 2026-12-01T04:29:50Z: the model id's `:` is sent as `%3A` and signed as `%253A`.
    let body = br#"{"messages":[{"role":"user","content":[{"text":"Hello"}]}]}"#;
    let request = SignableRequest {
        method: "POST",
        host: "bedrock-runtime.us-east-1.amazonaws.com",
        path: "/model/anthropic.claude-3-haiku-20240307-v1%3A0/converse",
        query: "",
        headers: &[("Content-Type", "application/json")],
        body,
        content_sha256_header: false,
    };
    let now = AwsTime(1_796_099_390);
    let signing = Signing::new(&request, &CREDENTIALS, now);
    assert!(
        signing.canonical_request.starts_with("POST\n/model/anthropic.claude-3-haiku-20240307-v1%253A0/converse\n")
    );
    let headers = sign(&request, &CREDENTIALS, "us-east-1", "bedrock", now);
    assert_eq!(
        headers,
        [
            ("x-amz-date", "20261201T042950Z".to_owned()),
            (
                "authorization",
                "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20261201/us-east-1/bedrock/aws4_request, \
                 SignedHeaders=content-type;host;x-amz-date, \
                 Signature=de8acff995058d9703b4915803d2af4d2dc47e27af52b2654a3c4b25a0e9611b"
                    .to_owned()
            ),
        ]
    );

    let token = "FwoGZXIvYXdzEXAMPLETOKEN==";
    let credentials = Credentials { session_token: Some(token), ..CREDENTIALS };
    let headers = sign(&request, &credentials, "us-east-1", "bedrock", now);
    assert_eq!(headers[1], ("x-amz-security-token", token.to_owned()));
    assert!(headers[2].1.ends_with(
        "SignedHeaders=content-type;host;x-amz-date;x-amz-security-token, \
         Signature=9d1b4f3a8e711c34cd17a2b7ebbc42ca77af7da00467371b4ad84ef8b5d54103"
    ));
}

#[test]
fn headers_the_signer_adds_are_not_signed_twice() {
    let request = SignableRequest {
        method: "GET",
        host: "example.amazonaws.com",
        path: "/",
        query: "",
        headers: &[("Host", "example.amazonaws.com"), ("X-Amz-Date", "19990101T000000Z"), ("Authorization", "x")],
        body: b"",
        content_sha256_header: false,
    };
    assert_eq!(Signing::new(&request, &CREDENTIALS, SUITE_TIME).canonical_request, vanilla("GET", "/", ""));
}

#[test]
fn hmac_matches_rfc_4231() {
    assert_eq!(
        hex(&hmac(&[0x0b; 20], b"Hi There")),
        "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"
    );
    assert_eq!(
        hex(&hmac(b"Jefe", b"what do ya want for nothing?")),
        "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
    );
    // A key longer than the block is hashed first.
    assert_eq!(
        hex(&hmac(&[0xaa; 131], b"Test Using Larger Than Block-Size Key - Hash Key First")),
        "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"
    );
}

#[test]
fn the_signing_key_matches_the_iam_guides_example() {
    let key = signing_key("wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", "20120215", "us-east-1", "iam");
    assert_eq!(hex(&key), "f4780e2d9f65fa895f9c67b32ce1baf0b0d8a43505a000a1a9e090d414db404d");
}

#[test]
fn times_are_written_as_amz_dates() {
    assert_eq!(AwsTime(0).amz_date(), "19700101T000000Z");
    assert_eq!(SUITE_TIME.amz_date(), "20150830T123600Z");
    assert_eq!(AwsTime(951_868_799).amz_date(), "20000229T235959Z");
    assert_eq!(AwsTime(1_735_603_201).amz_date(), "20241231T000001Z");
    // 2100 is not a leap year: the day after February 28th is March 1st.
    assert_eq!(AwsTime(4_107_542_400).amz_date(), "21000301T000000Z");
    assert_eq!(AwsTime(4_107_542_400 - 1).amz_date(), "21000228T235959Z");
}

#[test]
fn credentials_never_print_their_secrets() {
    let credentials = Credentials { session_token: Some("TOKEN"), ..CREDENTIALS };
    let printed = format!("{credentials:?}");
    assert!(printed.contains("AKIDEXAMPLE"), "{printed}");
    assert!(!printed.contains("EXAMPLEKEY") && !printed.contains("TOKEN"), "{printed}");
}

#[test]
fn a_malformed_percent_sequence_in_the_query_is_encoded_as_it_is() {
    assert_eq!(canonical_query("a=%zz&b=%4"), "a=%25zz&b=%254");
    assert_eq!(canonical_query("b=2&a&&a=1"), "a=&a=1&b=2");
}
