//! Expose a Rust type to Lua as userdata with methods, fields and metamethods:
//! `cargo run --example userdata`.

use rua::{Lua, MetaMethod, Result, UserData, UserDataFields, UserDataMethods, UserDataRef};

#[derive(Clone, Debug)]
struct Account {
    owner: String,
    balance: i64,
}

impl UserData for Account {
    fn add_fields<F: UserDataFields<Self>>(fields: &mut F) {
        fields.add_field_method_get("owner", |_, a| Ok(a.owner.clone()));
        fields.add_field_method_get("balance", |_, a| Ok(a.balance));
    }

    fn add_methods<M: UserDataMethods<Self>>(methods: &mut M) {
        methods.add_function("open", |_, owner: String| Ok(Account { owner, balance: 0 }));
        methods.add_method_mut("deposit", |_, a, amount: i64| {
            if amount <= 0 {
                return Err(rua::Error::runtime("deposit must be positive"));
            }
            a.balance += amount;
            Ok(a.balance)
        });
        methods.add_method_mut("transfer", |_, a, (to, amount): (rua::AnyUserData, i64)| {
            let mut to = to.borrow_mut::<Account>()?;
            a.balance -= amount;
            to.balance += amount;
            Ok(())
        });
        methods.add_meta_method(MetaMethod::ToString, |_, a, ()| {
            Ok(format!("Account({}, {})", a.owner, a.balance))
        });
        methods.add_meta_function(
            MetaMethod::Lt,
            |_, (a, b): (UserDataRef<Account>, UserDataRef<Account>)| Ok(a.balance < b.balance),
        );
    }
}

fn main() -> Result<()> {
    let lua = Lua::new();
    lua.globals().set(
        "alice",
        Account {
            owner: "alice".into(),
            balance: 100,
        },
    )?;
    lua.load(
        r#"
        local bob = alice.open("bob")
        bob:deposit(30)
        alice:transfer(bob, 50)
        print(tostring(alice), tostring(bob), bob < alice)
        print(pcall(bob.deposit, bob, -1))
        "#,
    )
    .exec()?;
    let alice = lua.globals().get::<rua::AnyUserData>("alice")?;
    println!("back in Rust: {:?}", *alice.borrow::<Account>()?);
    Ok(())
}
