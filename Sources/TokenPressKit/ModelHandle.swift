/// What a `Session` or `Document` holds on its model's actor (a chat, a compressed cache), named by an identifier:
/// the state stays on the actor, used by one call at a time, and is freed there once the last holder is gone.
final class ModelHandle: Sendable {
    let model: TokenPressModel
    let identifier: Int

    init(model: TokenPressModel, identifier: Int) {
        self.model = model
        self.identifier = identifier
    }

    deinit {
        let model = model
        let identifier = identifier
        Task { await model.forget(identifier) }
    }
}
