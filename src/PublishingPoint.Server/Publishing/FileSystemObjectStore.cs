namespace PublishingPoint.Server.Publishing;

/// <summary>
/// Objects as files under a folder, for nginx or any static web server to serve. Each file is written to a
/// temporary name beside it and renamed over the old one, so a reader sees the old or the new file, never a
/// partial one, and synced (file and folder) before the put returns, as the progress that names it is. Content types
/// and cache headers are the web server's to set (by extension).
/// </summary>
public sealed class FileSystemObjectStore : IObjectStore
{
    private readonly string _root;

    public FileSystemObjectStore(string root)
    {
        _root = Path.TrimEndingDirectorySeparator(Path.GetFullPath(root));
        Directory.CreateDirectory(_root);
        Leftovers = Task.Run(RemoveLeftoverTemporaries);
    }

    /// <summary>The sweep of temporary files a crash left (begun when the store is made, on the pool).</summary>
    internal Task Leftovers { get; }

    // A put cut off by a crash leaves its temporary file, which a web server serving the folder would list. Those over
    // a minute old are removed once at start (a put takes milliseconds; none of this process's is running yet).
    private void RemoveLeftoverTemporaries()
    {
        var cutoff = DateTime.UtcNow.AddMinutes(-1);
        var options = new EnumerationOptions { RecurseSubdirectories = true, IgnoreInaccessible = true };
        foreach (var file in Directory.EnumerateFiles(_root, "*.tmp", options))
        {
            var name = Path.GetFileNameWithoutExtension(file);
            var dot = name.LastIndexOf('.');
            if (dot < 0 || !Guid.TryParseExact(name.AsSpan(dot + 1), "N", out _))
            {
                continue;
            }

            try
            {
                if (File.GetLastWriteTimeUtc(file) < cutoff)
                {
                    File.Delete(file);
                }
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                // gone meanwhile, or not ours to remove
            }
        }
    }

    public string Description => new Uri(_root + Path.DirectorySeparatorChar).ToString();

    public async Task PutAsync(string key, ReadOnlyMemory<byte> bytes, string contentType, string cacheControl, CancellationToken cancellationToken)
    {
        var path = PathOf(key);
        var folder = Path.GetDirectoryName(path)!;
        Archive.Durable.CreateDirectory(folder);
        var temp = $"{path}.{Guid.NewGuid():N}.tmp";
        try
        {
            var file = new FileStream(temp, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1, FileOptions.Asynchronous);
            await using (file.ConfigureAwait(false))
            {
                await file.WriteAsync(bytes, cancellationToken).ConfigureAwait(false);
                file.Flush(flushToDisk: true);
            }

            // On disk, name included, before the pass goes on: publish-progress.json (synced) says the store has it,
            // and a segment it names is never put again after a restart.
            File.Move(temp, path, overwrite: true);
            Archive.Durable.SyncDirectory(folder);
        }
        catch
        {
            File.Delete(temp);
            throw;
        }
    }

    public Task DeleteAsync(string key, CancellationToken cancellationToken)
    {
        File.Delete(PathOf(key));
        return Task.CompletedTask;
    }

    private string PathOf(string key)
    {
        var path = Path.GetFullPath(Path.Combine(_root, key));
        if (!path.StartsWith(_root + Path.DirectorySeparatorChar, StringComparison.Ordinal))
        {
            throw new InvalidOperationException($"object key {key} leaves the publishing folder");
        }

        return path;
    }
}
