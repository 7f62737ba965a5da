namespace PublishingPoint.Server.Transport;

/// <summary>A connection whose output can take a response body by reference (see <see cref="DirectSocketOutput"/>).</summary>
internal interface IDirectBodyFeature
{
    /// <summary>False once the connection failed or closed, or while a queued body is still being accounted for.</summary>
    bool AcceptsBodies { get; }

    /// <summary>Where the bodies sent this way are counted.</summary>
    TransportMetrics? Metrics { get; }

    /// <summary>
    /// Queues <paramref name="body"/> after everything written so far; the caller must then advance the response
    /// writer by exactly its length without writing into the memory it gets. False when the memory is not an array.
    /// </summary>
    bool TryQueueBody(ReadOnlyMemory<byte> body);

    /// <summary>
    /// Queues <paramref name="count"/> bytes of <paramref name="file"/> from <paramref name="offset"/>, to go with
    /// sendfile; the same contract as <see cref="TryQueueBody"/>. False when the file is already closed.
    /// </summary>
    bool TryQueueFile(SpooledFile file, long offset, int count);
}
