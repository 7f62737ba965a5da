namespace PublishingPoint.Server.Publishing;

/// <summary>
/// The object store refused or failed an operation (what the store reported is the inner exception): told apart from
/// the origin's own failures in a pass (an archive that cannot be read), which do not make the store "down".
/// </summary>
public sealed class ObjectStoreException : Exception
{
    public ObjectStoreException()
    {
    }

    public ObjectStoreException(string message)
        : base(message)
    {
    }

    public ObjectStoreException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}
