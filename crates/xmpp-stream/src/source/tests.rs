use tokio::io::AsyncBufReadExt;

use super::*;
use crate::test_util::Chunked;

fn source(data: &[u8], sizes: Vec<usize>, limit: usize) -> BoundedSource<Chunked> {
    BoundedSource::new(Chunked::new(data, sizes, false), limit)
}

#[tokio::test]
async fn hands_out_no_more_than_the_allowance() {
    let mut s = source(&[b'a'; 100], vec![100], 10);
    assert_eq!(s.fill_buf().await.unwrap().len(), 10);
    s.consume(4);
    assert_eq!(s.fill_buf().await.unwrap().len(), 6);
    s.consume(6);
    assert!(s.fill_buf().await.is_err());
    assert_eq!(s.refusal(), Some(Refusal::OverLimit));
}

#[tokio::test]
async fn boundaries_restart_the_count() {
    let mut s = source(&[b'a'; 100], vec![100], 10);
    for _ in 0..5 {
        let n = s.fill_buf().await.unwrap().len();
        assert_eq!(n, 10);
        s.consume(n);
        s.mark_boundary();
    }
    assert_eq!(s.refusal(), None);
    assert!(s.has_buffered_data());
}

#[tokio::test]
async fn non_characters_are_caught_across_reads() {
    for (data, bad) in [
        (&b"ab\x01cd"[..], Some(0x01)),
        (b"ab\x00", Some(0x00)),
        (b"tab\tnl\ncr\r", None),
        ("\u{FFFF}".as_bytes(), Some(0xEF)),
        ("\u{FFFE}".as_bytes(), Some(0xEF)),
        ("\u{FFFD}\u{EFFF}\u{FEFF}".as_bytes(), None),
    ] {
        for size in 1..=data.len() {
            let mut s = source(data, vec![size], 1000);
            loop {
                match s.fill_buf().await {
                    Ok([]) | Err(_) => break,
                    Ok(b) => {
                        let n = b.len();
                        s.consume(n);
                    }
                }
            }
            let expected = bad.map(Refusal::BadChar);
            assert_eq!(s.refusal(), expected, "{data:?} in reads of {size}");
        }
    }
}

#[tokio::test]
async fn peeking_compacts_and_waits_for_enough_bytes() {
    let mut s = source(b"abcdef", vec![1], 1000);
    assert_eq!(s.peek_at_least(3).await.unwrap(), b"abc");
    s.consume(2);
    assert_eq!(s.peek_at_least(3).await.unwrap(), b"cde");
    let mut s = source(b"ab", vec![1], 1000);
    assert_eq!(
        s.peek_at_least(3).await.unwrap(),
        b"ab",
        "end of file stops the wait"
    );
    assert!(s.is_eof());
}

#[tokio::test]
async fn whitespace_is_skipped_up_to_what_is_available() {
    let mut s = source(b"  \n\t<a/>", vec![usize::MAX], 1000);
    assert_eq!(s.skip_whitespace().await.unwrap(), Gap::Whitespace);
    assert_eq!(s.skip_whitespace().await.unwrap(), Gap::Markup);

    let mut s = BoundedSource::new(Chunked::new(&b"  x"[..], vec![1], true), 1000);
    assert_eq!(s.skip_whitespace().await.unwrap(), Gap::Whitespace);
    assert_eq!(s.skip_whitespace().await.unwrap(), Gap::Whitespace);
    assert_eq!(s.skip_whitespace().await.unwrap(), Gap::Text);

    let mut s = source(b" ", vec![1], 1000);
    assert_eq!(s.skip_whitespace().await.unwrap(), Gap::Whitespace);
    assert_eq!(s.skip_whitespace().await.unwrap(), Gap::Eof);
}

#[tokio::test]
async fn an_idle_source_holds_no_buffer() {
    // Chunked with `pending`: every chunk is preceded by a Pending, as on a quiet socket.
    let mut s = source(b"<a/><b/>", vec![4], 1000);
    assert!(!s.holds_buffer(), "nothing read yet");
    let data = s.peek_at_least(1).await.unwrap().to_vec();
    assert_eq!(data, b"<a/>");
    assert!(s.holds_buffer());
    s.consume(4);
    let mut s = BoundedSource::new(Chunked::new(b"<a/><b/>".to_vec(), vec![4], true), 1000);
    let mut seen = Vec::new();
    loop {
        let waker = std::task::Waker::noop();
        let mut cx = Context::from_waker(waker);
        match Pin::new(&mut s).poll_fill_buf(&mut cx) {
            Poll::Pending => assert!(!s.holds_buffer(), "a read that finds nothing frees it"),
            Poll::Ready(Ok([])) => break,
            Poll::Ready(Ok(bytes)) => {
                let n = bytes.len();
                seen.extend_from_slice(bytes);
                assert!(s.holds_buffer());
                Pin::new(&mut s).consume(n);
            }
            Poll::Ready(Err(e)) => panic!("{e}"),
        }
    }
    assert_eq!(seen, b"<a/><b/>", "nothing lost across the releases");
}
