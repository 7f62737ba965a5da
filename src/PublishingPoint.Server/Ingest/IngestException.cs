namespace PublishingPoint.Server.Ingest;

/// <summary>An ingest that must be refused, with the HTTP status and a message safe to send back.</summary>
public sealed class IngestException : Exception
{
    public IngestException()
    {
    }

    public IngestException(string message) : base(message)
    {
    }

    public IngestException(string message, Exception innerException) : base(message, innerException)
    {
    }

    public IngestException(int statusCode, string message) : base(message) => StatusCode = statusCode;

    public int StatusCode { get; } = StatusCodes.Status400BadRequest;
}
