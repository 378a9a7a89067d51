//! Outbound HTTP doubles (`outbound::HttpClient`) shared by the native tests.

use std::cell::RefCell;
use std::collections::VecDeque;

use mcp_oauth_worker::outbound::{HttpClient, LocalBoxFuture, OutRequest, OutResponse};

/// Outbound HTTP that is never expected: every request fails, naming its URL.
pub struct NoHttp;

impl HttpClient for NoHttp {
    fn send(&self, request: OutRequest) -> LocalBoxFuture<'_, Result<OutResponse, String>> {
        Box::pin(async move { Err(format!("no network in tests: {}", request.url)) })
    }
}

/// One answer of a [`FakeHttp`]: a response, or a transport error.
pub type Answer = Result<OutResponse, String>;

/// A response with `status`, one `Content-Type` header and `body`.
pub fn out_response(status: u16, content_type: &str, body: &str) -> Answer {
    Ok(OutResponse {
        status,
        headers: vec![("Content-Type".into(), content_type.into())],
        body: body.as_bytes().to_vec(),
    })
}

/// Records every outbound request and answers from a script: the queued answers
/// first, in order; then the standing answer, if one is set. A request past both
/// fails the test, naming its URL.
#[derive(Default)]
pub struct FakeHttp {
    queued: RefCell<VecDeque<Answer>>,
    standing: RefCell<Option<Answer>>,
    requests: RefCell<Vec<OutRequest>>,
}

impl FakeHttp {
    /// Answers these, in order, one request each.
    pub fn new(answers: Vec<Answer>) -> FakeHttp {
        FakeHttp {
            queued: RefCell::new(answers.into()),
            ..FakeHttp::default()
        }
    }

    /// Answers every request with `answer`.
    pub fn always(answer: Answer) -> FakeHttp {
        let http = FakeHttp::default();
        http.answer_always(answer);
        http
    }

    /// From now on, answers every request (once the queue is spent) with `answer`.
    pub fn answer_always(&self, answer: Answer) {
        *self.standing.borrow_mut() = Some(answer);
    }

    /// [`FakeHttp::answer_always`] with a JSON body.
    pub fn answer_json(&self, status: u16, body: &str) {
        self.answer_always(out_response(status, "application/json", body));
    }

    /// Every request sent so far, in order.
    pub fn requests(&self) -> Vec<OutRequest> {
        self.requests.borrow().clone()
    }

    /// Queued answers no request has taken.
    pub fn unused(&self) -> usize {
        self.queued.borrow().len()
    }
}

impl HttpClient for FakeHttp {
    fn send(&self, request: OutRequest) -> LocalBoxFuture<'_, Result<OutResponse, String>> {
        let url = request.url.clone();
        self.requests.borrow_mut().push(request);
        let answer = self
            .queued
            .borrow_mut()
            .pop_front()
            .or_else(|| self.standing.borrow().clone())
            .unwrap_or_else(|| panic!("unexpected request to {url}"));
        Box::pin(async move { answer })
    }
}
