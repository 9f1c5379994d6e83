//! Field accuracy of [`super::extract`] over the labelled corpus (added with
//! the release-page fixtures).
