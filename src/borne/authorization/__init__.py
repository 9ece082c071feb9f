"""Authorization: id tokens and the decision whether one may charge."""
