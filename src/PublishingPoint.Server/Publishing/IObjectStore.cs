namespace PublishingPoint.Server.Publishing;

/// <summary>
/// Where published objects go: a key ("live/ch1.isml/hls/video-400/12.ts", relative URLs of the origin) and its
/// bytes. A put replaces the whole object at once (readers never see half of it); deleting a missing key is fine.
/// </summary>
public interface IObjectStore
{
    /// <summary>For logs: "s3://bucket/prefix", "file:///srv/www".</summary>
    string Description { get; }

    Task PutAsync(string key, ReadOnlyMemory<byte> bytes, string contentType, string cacheControl, CancellationToken cancellationToken);

    Task DeleteAsync(string key, CancellationToken cancellationToken);
}
