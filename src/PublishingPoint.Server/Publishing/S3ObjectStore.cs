using Amazon;
using Amazon.Runtime;
using Amazon.S3;
using Amazon.S3.Model;
using PublishingPoint.Server.Configuration;

namespace PublishingPoint.Server.Publishing;

/// <summary>
/// Objects in an S3 bucket or any S3-compatible store (ServiceUrl, path-style addressing). One PUT per object;
/// retries are the publisher's (with its backoff), so the SDK's own are kept to one.
/// </summary>
public sealed class S3ObjectStore : IObjectStore, IDisposable
{
    private readonly AmazonS3Client _client;
    private readonly string _bucket;
    private readonly string _prefix;

    public S3ObjectStore(S3PublishOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        _bucket = options.Bucket ?? throw new ArgumentException("a bucket is required", nameof(options));
        _prefix = options.Prefix;
        var config = new AmazonS3Config
        {
            ForcePathStyle = options.ForcePathStyle,
            MaxErrorRetry = 1,
            Timeout = TimeSpan.FromSeconds(options.TimeoutSeconds),
            // Plain PUTs with a content MD5-free body: what every S3-compatible store understands.
            RequestChecksumCalculation = RequestChecksumCalculation.WHEN_REQUIRED,
            ResponseChecksumValidation = ResponseChecksumValidation.WHEN_REQUIRED,
        };
        if (!string.IsNullOrEmpty(options.ServiceUrl))
        {
            config.ServiceURL = options.ServiceUrl;
            config.AuthenticationRegion = options.Region;
        }
        else
        {
            config.RegionEndpoint = RegionEndpoint.GetBySystemName(options.Region);
        }

        _client = string.IsNullOrEmpty(options.AccessKey)
            ? new AmazonS3Client(config)
            : new AmazonS3Client(new BasicAWSCredentials(options.AccessKey, options.SecretKey), config);
        Description = $"s3://{_bucket}/{_prefix}" + (string.IsNullOrEmpty(options.ServiceUrl) ? string.Empty : $" at {options.ServiceUrl}");
    }

    public string Description { get; }

    public async Task PutAsync(string key, ReadOnlyMemory<byte> bytes, string contentType, string cacheControl, CancellationToken cancellationToken)
    {
        using var body = new MemoryStream(bytes.ToArray(), writable: false);
        var request = new PutObjectRequest
        {
            BucketName = _bucket,
            Key = _prefix + key,
            InputStream = body,
            AutoCloseStream = false,
            ContentType = contentType,
            UseChunkEncoding = false,
        };
        request.Headers.CacheControl = cacheControl;
        await _client.PutObjectAsync(request, cancellationToken).ConfigureAwait(false);
    }

    public async Task DeleteAsync(string key, CancellationToken cancellationToken) =>
        await _client.DeleteObjectAsync(new DeleteObjectRequest { BucketName = _bucket, Key = _prefix + key }, cancellationToken).ConfigureAwait(false);

    public void Dispose() => _client.Dispose();
}
