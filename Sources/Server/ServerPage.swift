import Foundation

/// The page at `/`: a chat with the model, a choice of press or memory target, and the cache of every running
/// sequence drawn per layer and head as it fills and compresses (it polls `/slots`). One static file, no build step.
enum ServerPage {
    static let html: String = {
        guard let url = Bundle.module.url(forResource: "index", withExtension: "html"),
              let text = try? String(contentsOf: url, encoding: .utf8) else {
            return "<!doctype html><title>TokenPress</title><p>The page's file is missing from this build."
        }
        return text
    }()
}
