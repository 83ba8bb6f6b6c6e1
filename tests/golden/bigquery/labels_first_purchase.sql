SELECT
  `t2`.`customer_id`,
  IF(`t2`.`bought_after`, 1, 0) AS `label`
FROM (
  SELECT
    `t1`.`customer_id`,
    LOGICAL_OR(`t1`.`event_time` < DATETIME('2020-01-01T00:00:00')) AS `seen`,
    LOGICAL_OR(
      (
        `t1`.`event_time` < DATETIME('2020-01-01T00:00:00')
      )
      AND (
        `t1`.`event_type` = 'purchase'
      )
    ) AS `bought_before`,
    LOGICAL_OR(
      (
        `t1`.`event_time` >= DATETIME('2020-01-01T00:00:00')
      )
      AND (
        `t1`.`event_time` < DATETIME('2020-01-31T00:00:00')
      )
      AND (
        `t1`.`event_type` = 'purchase'
      )
    ) AS `bought_after`,
    LOGICAL_OR(
      (
        `t1`.`event_time` >= DATETIME('2020-01-01T00:00:00')
      )
      AND (
        `t1`.`event_time` < DATETIME('2020-01-31T00:00:00')
      )
      AND TRUE
    ) AS `visited_after`
  FROM (
    SELECT
      *
    FROM `events` AS `t0`
    WHERE
      `t0`.`event_time` < DATETIME('2020-01-31T00:00:00')
  ) AS `t1`
  GROUP BY
    1
) AS `t2`
WHERE
  `t2`.`seen` AND NOT (
    `t2`.`bought_before`
  )
