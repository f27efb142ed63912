//! Generated code names everything by absolute paths: shadowing the prelude's names changes nothing.
#![allow(dead_code, non_camel_case_types)]

use channels::prelude::*;

struct Result;
struct Option;
struct Box;
struct String;
struct Vec;
struct Ok;
struct Err;
struct Some;
struct None;
struct str;
struct Send;
struct Sync;
struct Clone;
struct Iterator;
struct Arc;
mod core {}
mod std {}

struct UserSocket;

#[socket]
impl UserSocket {
    channel!("rooms:lobby" => RoomChannel);
    channel!("rooms:*" => RoomChannel);
    channel!("*" => RoomChannel);

    fn connect(_: &ConnectParams, _: &ConnectInfo) -> ::core::result::Result<Self, Refuse> {
        ::core::result::Result::Ok(UserSocket)
    }

    fn id(&self) -> ::core::option::Option<::std::string::String> {
        ::core::option::Option::None
    }
}

struct RoomChannel;

// serde's derive does not survive a shadowed `str`; ours must, so the payload type lives outside this scope.
mod payload {
    #[derive(serde::Deserialize)]
    pub struct Msg {
        pub n: u32,
    }
}
use payload::Msg;

struct Tick;

#[channel]
#[intercept("out")]
impl RoomChannel {
    #[join("rooms:{id}")]
    async fn numbered(id: u32, topic: &::core::primitive::str, params: Msg) -> JoinResult<Self> {
        let _ = (id, topic, params.n);
        JoinResult::ok(RoomChannel)
    }

    #[join("{a}:{_b}")]
    async fn any(a: ::std::string::String, assigns: &UserSocket) -> JoinResult<Self> {
        let _ = (a, assigns);
        JoinResult::ok(RoomChannel)
    }

    #[handle_in("in")]
    async fn handle(
        &mut self,
        msg: Msg,
        socket: &mut ChannelSocket<Self>,
        assigns: &UserSocket,
        topic: &::core::primitive::str,
    ) {
        let _ = (msg.n, socket, assigns, topic);
    }

    #[handle_in("raw")]
    fn raw(&self, payload: Payload) -> Reply {
        Reply::ok(payload)
    }

    #[handle_out("out")]
    fn out(&mut self, payload: Payload, socket: &mut ChannelSocket<Self>) -> OutResult {
        socket.push("out", payload);
        OutResult::NoReply
    }

    #[handle_info]
    fn info(&mut self, _tick: Tick) {}

    #[terminate]
    fn terminate(&mut self, reason: TerminateReason) {
        let _ = reason;
    }
}

fn main() {}
