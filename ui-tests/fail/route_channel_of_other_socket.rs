use channels::prelude::*;

struct UserSocket;

#[socket]
impl UserSocket {
    channel!("admin:*" => AdminChannel);

    fn connect(_params: &ConnectParams, _info: &ConnectInfo) -> Result<Self, Refuse> {
        Ok(UserSocket)
    }
}

struct AdminSocket;

#[socket]
impl AdminSocket {
    channel!("admin:*" => AdminChannel);

    fn connect(_params: &ConnectParams, _info: &ConnectInfo) -> Result<Self, Refuse> {
        Ok(AdminSocket)
    }
}

struct AdminChannel;

#[channel(socket = AdminSocket)]
impl AdminChannel {
    #[join("admin:lobby")]
    async fn lobby() -> JoinResult<Self> {
        JoinResult::ok(AdminChannel)
    }
}

fn main() {}
