import HTTPGateway
import ImageEmbedding

/// The gateway turns uploaded images into descriptors through `ImageDescriber`; the coordinator's
/// `ImageEmbedder` (decoders and the descriptor network) is the one it gets.
extension ImageEmbedder: ImageDescriber {}
