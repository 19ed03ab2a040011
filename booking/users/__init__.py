"""users: accounts (e-mail, name, password hash) and the e-mails sent to people."""
